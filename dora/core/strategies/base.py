"""What every strategy shares: its inputs, its output and the :class:`Strategy` protocol. Pure.

A strategy is a pure function of one market's :class:`QuoteInputs` (rules, book without dora's
own size, public trades, position, config, now) that returns a :class:`QuoteDecision`: the quotes
it wants resting, a reason and a :class:`PriceRecord` saying why. It does no I/O and keeps no
state between calls. Whatever it returns then passes dora's own checks
(:mod:`dora.core.strategies.checks`), the exit policy, the diff and the risk checks, so a
strategy can only ask for quotes, never bypass a limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

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


@dataclass(frozen=True, slots=True)
class TargetQuote:
    """One order dora wants resting. ``close`` names the exit rule behind a closing order ("" for
    a quote); ``immediate`` makes it an immediate-or-cancel, reduce-only order. Only the exit
    policy sets either: :mod:`dora.core.strategies.checks` refuses a strategy's target that does.
    """

    ticker: str
    side: Side
    price: Price
    size: Count
    level: int
    close: str = ""
    immediate: bool = False

    def __post_init__(self) -> None:
        if not (0 < self.price < ONE_DOLLAR and self.size > 0 and self.level >= 0):
            raise ValueError(
                f"invalid target {self.ticker} {self.side}: price {self.price} must be in "
                f"(0, {ONE_DOLLAR}), size {self.size} > 0, level {self.level} >= 0"
            )
        if self.immediate and not self.close:
            raise ValueError(f"target {self.ticker} {self.side}: only a close can be immediate")


@dataclass(frozen=True, slots=True)
class QuoteInputs:
    rules: MarketRules
    book: OrderBook  # dora's own resting size already removed
    trades: tuple[PublicTrade, ...]
    position: PositionState
    config: MarketConfig | InvalidMarketConfig
    now_ms: TsMs
    close_guard_ms: int


@dataclass(frozen=True, slots=True)
class QuoteDecision:
    ticker: str
    targets: tuple[TargetQuote, ...]
    reason: str
    record: PriceRecord


class Strategy(Protocol):
    """Inputs of one market -> the quotes wanted there and a record of why. Must be pure."""

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision: ...


def remove_own_orders(book: OrderBook, own: Iterable[RestingOrder]) -> OrderBook:
    """The book minus dora's own resting size, level by level (empty levels disappear)."""
    mine: dict[tuple[Side, Price], Count] = {}
    for order in own:
        if order.ticker == book.ticker and order.status is OrderStatus.RESTING:
            key = (order.side, order.price)
            mine[key] = mine.get(key, 0) + max(order.remaining, 0)
    if not mine:
        return book
    return OrderBook(
        book.ticker,
        bids=_subtract(book.bids, Side.BID, mine),
        asks=_subtract(book.asks, Side.ASK, mine),
    )


def _subtract(
    levels: tuple[Level, ...], side: Side, mine: dict[tuple[Side, Price], Count]
) -> tuple[Level, ...]:
    out: list[Level] = []
    for level in levels:
        left = level.count - mine.get((side, level.price), 0)
        if left > 0:
            out.append(level if left == level.count else Level(level.price, left))
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
