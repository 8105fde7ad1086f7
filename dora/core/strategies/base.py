"""What every strategy shares: its inputs, its output and the :class:`Strategy` protocol. Pure.

A strategy is a pure function of one market's :class:`QuoteInputs` (rules, book without dora's
own size, public trades, position, config, now) that returns a :class:`QuoteDecision`: the quotes
it wants resting, a reason and a :class:`PriceRecord` saying why. It does no I/O and keeps no
state between calls. Whatever it returns then passes dora's own checks
(:mod:`dora.core.strategies.checks`), the exit policy, the diff and the risk checks, so a
strategy can only ask for quotes, never bypass a limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from dora.core.market_config import InvalidMarketConfig, MarketConfig
from dora.core.models import (
    Level,
    MarketRules,
    OrderBook,
    OrderStatus,
    PositionState,
    PublicTrade,
    RestingOrder,
    Side,
    TsMs,
)
from dora.core.strategies.record import PriceRecord
from dora.core.units import ONE_DOLLAR, Count, Price


class _TargetFields(NamedTuple):
    ticker: str
    side: Side
    price: Price
    size: Count
    level: int
    close: str = ""
    immediate: bool = False


class TargetQuote(_TargetFields):
    """One order dora wants resting. ``close`` names the exit rule behind a closing order ("" for
    a quote); ``immediate`` makes it an immediate-or-cancel, reduce-only order. Only the exit
    policy sets either: :mod:`dora.core.strategies.checks` refuses a strategy's target that does.

    A named tuple, not a dataclass: a cycle builds thousands (docs/architecture.md#hot-values).
    The constructor checks the values; :func:`quote_target` skips that for values that are
    valid by construction.
    """

    __slots__ = ()

    def __new__(
        cls, ticker: str, side: Side, price: Price, size: Count, level: int, close: str = "",
        immediate: bool = False,
    ) -> TargetQuote:
        if not (0 < price < ONE_DOLLAR and size > 0 and level >= 0):
            raise ValueError(
                f"invalid target {ticker} {side}: price {price} must be in "
                f"(0, {ONE_DOLLAR}), size {size} > 0, level {level} >= 0"
            )
        if immediate and not close:
            raise ValueError(f"target {ticker} {side}: only a close can be immediate")
        return _new_tuple(cls, (ticker, side, price, size, level, close, immediate))


_new_tuple = tuple.__new__


def quote_target(ticker: str, side: Side, price: Price, size: Count, level: int) -> TargetQuote:
    """A quote's target without the constructor's checks, for a price taken from the market's
    grid and a positive size (every strategy's targets pass :mod:`.checks` anyway)."""
    return _new_tuple(TargetQuote, (ticker, side, price, size, level, "", False))


@dataclass(frozen=True, slots=True)
class QuoteInputs:
    rules: MarketRules
    book: OrderBook  # dora's own resting size already removed
    trades: tuple[PublicTrade, ...]
    position: PositionState
    config: MarketConfig | InvalidMarketConfig
    now_ms: TsMs
    close_guard_ms: int

    def reuse_key(self) -> ReuseKey:
        """Every input but the time (see :class:`TimedStrategy` for that)."""
        return reuse_key(self.rules, self.book, self.trades, self.position, self.config,
                         self.close_guard_ms)


ReuseKey = tuple[object, ...]


def reuse_key(
    rules: MarketRules, book: OrderBook, trades: tuple[PublicTrade, ...], position: PositionState,
    config: MarketConfig | InvalidMarketConfig, close_guard_ms: int,
) -> ReuseKey:
    """:meth:`QuoteInputs.reuse_key` from the parts, without building the inputs."""
    return (rules, book, trades, position, config, close_guard_ms)


@dataclass(frozen=True, slots=True)
class QuoteDecision:
    ticker: str
    targets: tuple[TargetQuote, ...]
    reason: str
    record: PriceRecord


class Strategy(Protocol):
    """Inputs of one market -> the quotes wanted there and a record of why. Must be pure."""

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision: ...


class TimedStrategy(Strategy, Protocol):
    """A strategy that also says how its decision depends on the time, so that dora can reuse it
    while nothing else changed (:mod:`dora.core.reuse`).

    ``decide_until(inputs)`` returns what ``compute_quotes(inputs)`` returns and a time: with
    every other input unchanged, ``compute_quotes`` returns an equal decision for any ``now_ms``
    from ``inputs.now_ms`` up to, not including, that time (None: for every later time). A
    strategy without this method is asked again whenever the time differs.
    """

    def decide_until(self, inputs: QuoteInputs) -> tuple[QuoteDecision, TsMs | None]: ...


OwnSizes = Mapping[tuple[Side, Price], Count]  # dora's resting contracts at each side and price


def remove_own_orders(book: OrderBook, own: Iterable[RestingOrder]) -> OrderBook:
    """The book minus dora's own resting size, level by level (empty levels disappear)."""
    mine: dict[tuple[Side, Price], Count] = {}
    for order in own:
        if order.ticker == book.ticker and order.status is OrderStatus.RESTING:
            key = (order.side, order.price)
            mine[key] = mine.get(key, 0) + max(order.remaining, 0)
    return remove_own_sizes(book, mine)


def remove_own_sizes(book: OrderBook, mine: OwnSizes) -> OrderBook:
    """The book minus ``mine`` (dora's resting contracts by side and price)."""
    if not mine:
        return book
    return OrderBook(
        book.ticker,
        bids=_subtract(book.bids, Side.BID, mine),
        asks=_subtract(book.asks, Side.ASK, mine),
    )


def _subtract(levels: tuple[Level, ...], side: Side, mine: OwnSizes) -> tuple[Level, ...]:
    cut = {price: count for (at, price), count in mine.items() if at is side}
    if not cut:
        return levels
    out: list[Level] = []
    for level in levels:
        count = cut.get(level.price)
        if count is None:
            out.append(level)
        elif level.count > count:
            out.append(Level(level.price, level.count - count))
    return tuple(out)


def market_blocked(inputs: QuoteInputs) -> str:
    """Why no strategy may quote this market now ("" when it may): an invalid or disabled
    config, a market that is not open, or the close guard before the market's close time."""
    config = inputs.config
    if isinstance(config, InvalidMarketConfig):
        return "config_invalid"
    if not config.enabled:
        return "config_disabled"
    if not inputs.rules.status.tradable:
        return "market_not_open"
    if inputs.rules.close_time_ms - inputs.now_ms <= inputs.close_guard_ms:
        return "close_guard"
    return ""


def blocked_valid_until(inputs: QuoteInputs) -> TsMs | None:
    """Until when :func:`market_blocked` keeps its answer as the time passes: the close guard
    starts at ``close_time - close_guard_ms``; nothing else in it depends on the time."""
    guard_starts = inputs.rules.close_time_ms - inputs.close_guard_ms
    return guard_starts if inputs.now_ms < guard_starts else None


def earliest(*times: TsMs | None) -> TsMs | None:
    """The earliest of the times given (None: no limit)."""
    limits = [t for t in times if t is not None]
    return min(limits) if limits else None
