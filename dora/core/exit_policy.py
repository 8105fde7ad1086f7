"""When and how dora walks out of a position: the exit policy. Pure.

:func:`compute_exit` looks at one market's position, book (without dora's own orders), rules,
settings and the time, and returns a :class:`CloseIntent` when a rule says the position should
go, or None. The rules, in priority order (the first urgent one wins, else the first):

- ``stop_loss`` (urgent): unrealized P&L after the fee of closing, marked at the near touch (a
  long at the best bid, a short at the best ask), is below ``-stop_loss``;
- ``market_closing``: the market closes within ``close_positions_before_s`` (urgent within
  ``urgent_before_s``);
- ``unmanaged``: the market is disabled or has no valid config and ``close_on_disable`` is on
  (off by default: such a position is left alone, and so are all the other rules);
- ``take_profit``: that unrealized P&L is above ``take_profit``;
- ``stuck``: held longer than ``max_hold_s`` since it was opened or last reduced;
- ``low_cash``: free cash is under ``min_cash_reserve``; :func:`low_cash_sizes` picks the
  positions with the worst unrealized P&L first and closes just enough of them to restore it.

Every rule but ``low_cash`` closes the whole position (whole contracts where the market trades
only those; less what fills dora has not read yet may already have closed). How:

- passive: a post-only order on the reducing side, first at the near touch of that side (the best
  ask when selling), then one tick more aggressive each cycle (``walk``), never past
  ``close_max_slippage`` from the reference price (the configured fair value, else the book mid)
  and never crossing the book;
- immediate, for an urgent rule when the opposite best is within that bound: an
  immediate-or-cancel, reduce-only order at the bound, for the position and no more.

While a market has a close intent, its targets are the close alone: dora does not quote the side
that would add to the position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from dora.core.fees import taker_fee
from dora.core.grid import snap_down, snap_up, ticks_above, ticks_below, valid_prices
from dora.core.ledger import covering
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import MarketRules, OrderBook, PositionState, Side, TsMs
from dora.core.positions import held_since_ms
from dora.core.pricing import exit_size
from dora.core.strategies.base import TargetQuote
from dora.core.strategies.record import BookSummary, summarize_book
from dora.core.units import ONE_CONTRACT, ONE_DOLLAR, Count, Micros, Price, format_micros, notional

STOP_LOSS = "stop_loss"
MARKET_CLOSING = "market_closing"
UNMANAGED = "unmanaged"
TAKE_PROFIT = "take_profit"
STUCK = "stuck"
LOW_CASH = "low_cash"
PRIORITY = (STOP_LOSS, MARKET_CLOSING, UNMANAGED, TAKE_PROFIT, STUCK, LOW_CASH)


@dataclass(frozen=True, slots=True)
class ExitSettings:
    stop_loss: Micros | None = None
    take_profit: Micros | None = None
    max_hold_ms: int | None = None
    close_before_ms: int = 600_000
    urgent_before_ms: int = 120_000
    max_slippage: Price = 500
    close_on_disable: bool = False


def exit_settings(market: MarketConfig | None, glob: GlobalConfig) -> ExitSettings:
    """A market's own value where it sets one, else the global config's (its defaults: every
    rule off but ``market_closing``, which starts with the close guard)."""
    def pick(name: str) -> Any:
        own = getattr(market, name) if market is not None else None
        return own if own is not None else getattr(glob, name)

    before_s = pick("close_positions_before_s")
    hold_s = pick("max_hold_s")
    return ExitSettings(
        stop_loss=pick("stop_loss"),
        take_profit=pick("take_profit"),
        max_hold_ms=None if hold_s is None else hold_s * 1000,
        close_before_ms=glob.close_guard_ms if before_s is None else before_s * 1000,
        urgent_before_ms=pick("urgent_before_s") * 1000,
        max_slippage=pick("close_max_slippage"),
        close_on_disable=pick("close_on_disable"),
    )


@dataclass(frozen=True, slots=True)
class CloseWalk:
    """Where last cycle's passive close rested: this cycle's starts one tick further."""

    side: Side
    price: Price


@dataclass(frozen=True, slots=True)
class ExitInputs:
    rules: MarketRules
    book: OrderBook  # dora's own resting size already removed
    position: PositionState
    settings: ExitSettings
    managed: bool  # the market has a valid, enabled config
    fair_value: Price | None  # the configured fair value, if any
    now_ms: TsMs
    walk: CloseWalk | None = None
    low_cash_size: Count = 0
    maybe_closed: Count = 0  # contracts fills not read yet may have closed (ledger.MaybeClosed)


@dataclass(frozen=True, slots=True)
class CloseIntent:
    """``price`` None: no price within the bounds this cycle, so nothing is sent (the market
    still counts as closing: nothing that adds to the position is quoted)."""

    ticker: str
    reason: str
    reasons: tuple[str, ...]  # every rule that applied, in priority order
    side: Side
    size: Count
    immediate: bool
    price: Price | None
    reference: Price | None
    unrealized: Micros | None
    detail: str

    @property
    def target(self) -> TargetQuote | None:
        if self.price is None or self.size <= 0:
            return None
        return TargetQuote(self.ticker, self.side, self.price, self.size, 0, close=self.reason,
                           immediate=self.immediate)

    @property
    def walk(self) -> CloseWalk | None:
        if self.price is None or self.immediate:
            return None
        return CloseWalk(self.side, self.price)


class _Rule(NamedTuple):
    reason: str
    urgent: bool
    detail: str


def compute_exit(inputs: ExitInputs) -> CloseIntent | None:
    position, rules, settings = inputs.position, inputs.rules, inputs.settings
    if position.net == 0 or position.settled or not rules.status.tradable:
        return None
    if not inputs.managed and not settings.close_on_disable:
        return None
    full = exit_size(covering(position.net, inputs.maybe_closed), rules.fractional_trading)
    if full <= 0:
        return None
    book = summarize_book(inputs.book)
    unrealized = unrealized_after_fees(position, book)
    applying = _rules(inputs, unrealized)
    if not applying:
        return None
    winner = min(applying, key=lambda r: (not r.urgent, PRIORITY.index(r.reason)))
    size = min(inputs.low_cash_size, full) if winner.reason == LOW_CASH else full
    side = Side.ASK if position.net > 0 else Side.BID
    reference = inputs.fair_value if inputs.fair_value is not None else book.mid
    bound = _bound(valid_prices(rules.price_ranges), side, reference, settings.max_slippage)
    immediate = winner.urgent and _takeable(book, side, bound)
    price = bound if immediate else _passive_price(inputs, book, side, reference, bound)
    return CloseIntent(
        rules.ticker, winner.reason, tuple(r.reason for r in _ordered(applying)), side, size,
        immediate, price, reference, unrealized, winner.detail,
    )


def exit_valid_until(inputs: ExitInputs, intent: CloseIntent | None) -> TsMs | None:
    """How long :func:`compute_exit` keeps its answer (``intent``) as the clock moves, the other
    inputs unchanged: until the market-closing rule or the stuck rule starts to apply. While
    either applies the answer counts the seconds, so it holds for this millisecond only."""
    now = inputs.now_ms
    if intent is not None and (MARKET_CLOSING in intent.reasons or STUCK in intent.reasons):
        return now + 1
    settings, close_ms = inputs.settings, inputs.rules.close_time_ms
    starts = [close_ms - settings.close_before_ms, close_ms - settings.urgent_before_ms]
    since = held_since_ms(inputs.position)
    if settings.max_hold_ms is not None and since:
        starts.append(since + settings.max_hold_ms + 1)
    later = [t for t in starts if t > now]
    return min(later) if later else None


def _ordered(rules: list[_Rule]) -> list[_Rule]:
    return sorted(rules, key=lambda r: PRIORITY.index(r.reason))


def _rules(inputs: ExitInputs, unrealized: Micros | None) -> list[_Rule]:
    settings = inputs.settings
    found: list[_Rule] = []
    left_ms = inputs.rules.close_time_ms - inputs.now_ms
    if left_ms <= settings.close_before_ms:
        found.append(_Rule(MARKET_CLOSING, left_ms <= settings.urgent_before_ms,
                           f"closes in {left_ms // 1000} s"))
    if unrealized is not None and settings.stop_loss is not None and (
            unrealized < -settings.stop_loss):
        found.append(_Rule(STOP_LOSS, True, _pnl_detail(unrealized, "<", -settings.stop_loss)))
    if not inputs.managed:
        found.append(_Rule(UNMANAGED, False, "market disabled or not configured"))
    if unrealized is not None and settings.take_profit is not None and (
            unrealized > settings.take_profit):
        found.append(_Rule(TAKE_PROFIT, False, _pnl_detail(unrealized, ">", settings.take_profit)))
    since = held_since_ms(inputs.position)
    if settings.max_hold_ms is not None and since and inputs.now_ms - since > settings.max_hold_ms:
        found.append(_Rule(STUCK, False, f"held {(inputs.now_ms - since) // 1000} s unreduced"))
    if inputs.low_cash_size > 0:
        found.append(_Rule(LOW_CASH, False, "free cash under the reserve"))
    return found


def _pnl_detail(unrealized: Micros, op: str, limit: Micros) -> str:
    return f"unrealized ${format_micros(unrealized)} {op} ${format_micros(limit)}"


def unrealized_after_fees(position: PositionState, book: BookSummary) -> Micros | None:
    """What closing now at the near touch would realize, after the taker fee of doing so; None
    when that side of the book is empty (no price to mark at)."""
    held = abs(position.net)
    if position.net > 0 and book.best_bid is not None:
        mark = book.best_bid
        return notional(mark, held) - position.open_cost - taker_fee(held, mark)
    if position.net < 0 and book.best_ask is not None:
        mark = book.best_ask
        return position.open_cost - notional(mark, held) - taker_fee(held, mark)
    return None


def _bound(
    grid: tuple[Price, ...], side: Side, reference: Price | None, slippage: Price
) -> Price | None:
    """The least aggressive price the close may not pass: reference -/+ slippage on the grid."""
    if reference is None:
        return None
    if side is Side.ASK:
        return snap_up(grid, max(reference - slippage, 1))
    return snap_down(grid, min(reference + slippage, ONE_DOLLAR - 1))


def _takeable(book: BookSummary, side: Side, bound: Price | None) -> bool:
    """An urgent close crosses only when the opposite best is within the slippage bound."""
    if bound is None:
        return False
    if side is Side.ASK:
        return book.best_bid is not None and book.best_bid >= bound
    return book.best_ask is not None and book.best_ask <= bound


def _passive_price(
    inputs: ExitInputs, book: BookSummary, side: Side, reference: Price | None,
    bound: Price | None,
) -> Price | None:
    grid = valid_prices(inputs.rules.price_ranges)
    selling = side is Side.ASK
    touch = book.best_ask if selling else book.best_bid
    opposite = book.best_bid if selling else book.best_ask
    walk = inputs.walk
    price: Price | None
    if walk is not None and walk.side is side:
        # a step further only within a bound: with no reference price (no fair value, a
        # one-sided book) nothing says how far is too far, so the close stays where it was
        step = (ticks_below if selling else ticks_above)(grid, walk.price)
        price = step if step is not None and bound is not None else walk.price
        if touch is not None:
            price = min(price, touch) if selling else max(price, touch)
    else:
        price = touch if touch is not None else reference
    if price is None:
        return None
    if bound is not None:
        price = max(price, bound) if selling else min(price, bound)
    if opposite is not None and (price <= opposite if selling else price >= opposite):
        return (ticks_above if selling else ticks_below)(grid, opposite)  # post-only: never cross
    return snap_up(grid, price) if selling else snap_down(grid, price)


def low_cash_sizes(
    positions: Sequence[tuple[PositionState, OrderBook, bool]], available: Micros,
    reserve: Micros,
) -> dict[str, Count]:
    """How much of which positions to close so that ``available`` gets back to ``reserve``:
    the worst unrealized P&L first, each closed only as far as the shortfall needs (whole
    contracts unless the market is fractional), valued at its near touch. ``positions`` are
    (position, book without dora's orders, fractional) of the markets the policy may close."""
    shortfall = reserve - available
    if shortfall <= 0:
        return {}
    ranked = []
    for position, book, fractional in positions:
        summary = summarize_book(book)
        unrealized = unrealized_after_fees(position, summary)
        per_contract = _proceeds(position, summary)
        if position.net and not position.settled and unrealized is not None and per_contract:
            ranked.append((unrealized, position.ticker, position, per_contract, fractional))
    sizes: dict[str, Count] = {}
    for _, ticker, position, per_contract, fractional in sorted(ranked):
        if shortfall <= 0:
            break
        count = -(-shortfall // per_contract)
        if not fractional:
            count = -(-count // ONE_CONTRACT) * ONE_CONTRACT
        count = min(count, exit_size(position.net, fractional))
        if count > 0:
            sizes[ticker] = count
            shortfall -= notional(per_contract, count)
    return sizes


def _proceeds(position: PositionState, book: BookSummary) -> Price:
    """Cash one contract brings in when closed at the near touch: a long sells YES at the best
    bid; a short buys YES at the best ask, and the pair pays $1."""
    if position.net > 0:
        return book.best_bid or 0
    return ONE_DOLLAR - book.best_ask if book.best_ask is not None else 0
