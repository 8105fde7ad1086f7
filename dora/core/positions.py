"""Positions and P&L from fills and settlements, and the daily P&L boundary. Pure.

A position is a signed YES count (``net``) with ``open_cost``: the cash paid for the open long
lot, or received for the open short lot. A bid fill buys YES at ``price``; an ask fill sells YES at
``price``. Closing part of a lot takes the proportional part of ``open_cost`` (rounded down to a
micro-dollar; the remainder stays with the open lot, so a full round trip is exact). Realized P&L
is net of the fee the exchange reported on each fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date, timedelta

from dora.core.models import Fill, OrderBook, PositionState, RiskState, TsMs
from dora.core.units import ONE_DOLLAR, Micros, Price, notional

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
DAILY_LOSS_HALT_PREFIX = "daily_loss"  # halts with this reason end when the trading day rolls
SETTLEMENT_RESULTS = ("yes", "no", "void")


def apply_fill(state: PositionState, fill: Fill) -> tuple[PositionState, Micros]:
    """One fill -> (new state, realized P&L delta including the fee).

    A fill on a position already closed by settlement is ignored (returns a zero delta): the
    settlement paid out everything the exchange held, so applying it would create phantom
    inventory.
    """
    if state.settled:
        return state, 0
    signed = fill.count * fill.side.sign
    cash = notional(fill.price, fill.count)
    net, open_cost, realized = state.net, state.open_cost, -fill.fee
    opened, reduced = state.opened_ms, state.last_reduced_ms
    if net == 0 or (net > 0) == (signed > 0):
        if net == 0:
            opened, reduced = fill.ts_ms, 0
        net, open_cost = net + signed, open_cost + cash
    else:
        closing = min(fill.count, abs(net))
        released = open_cost if closing == abs(net) else open_cost * closing // abs(net)
        value = notional(fill.price, closing)
        realized += value - released if net > 0 else released - value
        opening = fill.count - closing
        net += signed
        open_cost = open_cost - released + notional(fill.price, opening)
        reduced = fill.ts_ms
        if net == 0 or opening:  # flat, or flipped: a new lot (if any) starts now
            opened, reduced = (fill.ts_ms, 0) if opening else (0, fill.ts_ms)
    new = replace(state, net=net, open_cost=open_cost, realized_pnl=state.realized_pnl + realized,
                  fees_paid=state.fees_paid + fill.fee, opened_ms=opened, last_reduced_ms=reduced)
    return new, realized


@dataclass(frozen=True, slots=True)
class FillsApplied:
    positions: dict[str, PositionState]
    seen: frozenset[str]
    applied: tuple[tuple[Fill, Micros], ...]  # new fills only, in the order applied
    realized: Micros


def apply_fills(
    positions: Mapping[str, PositionState], seen: AbstractSet[str], fills: Iterable[Fill]
) -> FillsApplied:
    """Apply the fills not seen before, once each, in time order (ties by fill_id)."""
    fresh: dict[str, Fill] = {}
    for fill in fills:
        if fill.fill_id not in seen:
            fresh.setdefault(fill.fill_id, fill)
    out = dict(positions)
    applied: list[tuple[Fill, Micros]] = []
    realized: Micros = 0
    for fill in sorted(fresh.values(), key=lambda f: (f.ts_ms, f.fill_id)):
        state = out.get(fill.ticker, PositionState(fill.ticker))
        out[fill.ticker], delta = apply_fill(state, fill)
        applied.append((fill, delta))
        realized += delta
    return FillsApplied(out, frozenset(seen) | frozenset(fresh), tuple(applied), realized)


def apply_settlement(state: PositionState, result: str) -> tuple[PositionState, Micros]:
    """Close the position at $1 (``yes``), $0 (``no``) or at its cost (``void``).

    Returns the realized delta. Already settled -> unchanged, 0. Any other result (scalar
    markets) raises ValueError: dora cannot value it, and guessing would corrupt P&L.
    """
    if result not in SETTLEMENT_RESULTS:
        raise ValueError(f"settlement result {result!r} not supported for {state.ticker}")
    if state.settled:
        return state, 0
    payout_price: Price = ONE_DOLLAR if result == "yes" else 0
    if result == "void" or state.net == 0:
        realized: Micros = 0
    elif state.net > 0:
        realized = notional(payout_price, state.net) - state.open_cost
    else:
        realized = state.open_cost - notional(payout_price, -state.net)
    closed = replace(state, net=0, open_cost=0, realized_pnl=state.realized_pnl + realized,
                     settled=True, opened_ms=0)
    return closed, realized


def unrealized_pnl(state: PositionState, book: OrderBook) -> Micros:
    """Liquidation value minus open cost: a long marked at the best bid, a short at the best ask;
    0 when that side of the book is empty (no price to mark at) or the position is flat."""
    if state.net > 0 and book.bids:
        return notional(book.bids[0].price, state.net) - state.open_cost
    if state.net < 0 and book.asks:
        return state.open_cost - notional(book.asks[0].price, -state.net)
    return 0


def held_since_ms(state: PositionState) -> TsMs:
    """Since when the position has been held without getting smaller: the later of when its lot
    was opened and its last reducing fill; 0 when flat or unknown."""
    if state.net == 0:
        return 0
    return max(state.opened_ms, state.last_reduced_ms)


def with_known_age(
    positions: Mapping[str, PositionState], now_ms: TsMs
) -> dict[str, PositionState]:
    """Open positions whose age is unknown (saved before dora kept it, or adopted from the
    exchange) count as opened ``now_ms``: a rule about age never acts on an age it cannot show."""
    return {
        ticker: replace(p, opened_ms=now_ms) if p.net and not p.opened_ms else p
        for ticker, p in positions.items()
    }


def avg_entry_price(state: PositionState) -> Price | None:
    """open_cost / |net| in Price units, rounded half up; None when flat."""
    held = abs(state.net)
    if held == 0:
        return None
    return (2 * state.open_cost + held) // (2 * held)


def trading_day(now_ms: TsMs, reset_hour_utc: int) -> str:
    """The UTC trading day (YYYY-MM-DD) that ``now_ms`` belongs to, days starting at the hour."""
    days = (now_ms - reset_hour_utc * HOUR_MS) // DAY_MS
    return (date(1970, 1, 1) + timedelta(days=days)).isoformat()


def roll_daily(risk: RiskState, now_ms: TsMs, reset_hour_utc: int) -> RiskState:
    """A new trading day zeroes ``daily_pnl`` and lifts a daily-loss halt (manual halts stay)."""
    day = trading_day(now_ms, reset_hour_utc)
    if day == risk.day:
        return risk
    loss_halt = risk.trading_halted and risk.halt_reason.startswith(DAILY_LOSS_HALT_PREFIX)
    return replace(
        risk, daily_pnl=0, day=day,
        trading_halted=risk.trading_halted and not loss_halt,
        halt_reason="" if loss_halt else risk.halt_reason,
    )
