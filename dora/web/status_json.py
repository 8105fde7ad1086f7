"""The snapshot as data: ``/status.json`` and the health answers (``/healthz``, ``/livez``).

Money is given as exact decimal dollar strings (six decimals, as dora stores it), prices as dollar
strings with four decimals, counts as contracts with two; times as UTC ISO-8601.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dora.bot.snapshot import BotSnapshot, FillView, MarketView
from dora.core.models import TsMs
from dora.core.timefmt import iso_ms
from dora.core.units import Micros, Price, format_count, format_micros, format_price

STALL_CYCLES = 5
STALL_GRACE_MS = 15_000


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    status: str  # ok | standby | starting | stalled | halted | lease_lost
    detail: str


def stall_after_ms(snapshot: BotSnapshot) -> int:
    """How long without a new cycle before the bot counts as stalled: a few loop intervals plus
    the slowest recent cycle, and a grace for a slow exchange."""
    slowest = max((c.duration_ms for c in snapshot.cycles), default=0)
    return STALL_GRACE_MS + STALL_CYCLES * (snapshot.interval_ms + slowest)


def liveness(snapshot: BotSnapshot | None, now_ms: TsMs) -> Health:
    """Cycles are running (halted or not): what a container health check should restart on."""
    if snapshot is None:
        return Health(False, "starting", "no cycle has finished yet")
    age = now_ms - snapshot.taken_ms
    if age > stall_after_ms(snapshot):
        return Health(False, "stalled", f"last cycle {snapshot.cycle} ended {age // 1000} s ago")
    return Health(True, "ok", f"cycle {snapshot.cycle} ended {age} ms ago")


def health(snapshot: BotSnapshot | None, now_ms: TsMs) -> Health:
    """Cycles run, the lease is held (or this process is a standby) and trading is not halted."""
    alive = liveness(snapshot, now_ms)
    if snapshot is None or not alive.ok:
        return alive
    lease = snapshot.lease
    if lease is not None and lease.standby:
        return Health(True, "standby", f"standby; the lease is held by {lease.holder}")
    if lease is not None and not lease.held:
        return Health(False, "lease_lost", f"the lease is held by {lease.holder or 'nobody'}")
    if snapshot.halted:
        return Health(False, "halted", snapshot.halt_reason or "manual")
    return alive


def status_document(snapshot: BotSnapshot | None, now_ms: TsMs) -> dict[str, Any]:
    state = health(snapshot, now_ms)
    doc: dict[str, Any] = {"health": {"ok": state.ok, "status": state.status,
                                      "detail": state.detail}, "now": iso_ms(now_ms)}
    if snapshot is None:
        return doc
    s = snapshot
    doc.update({
        "run_id": s.run_id, "version": s.version, "labels": dict(s.labels),
        "as_of": iso_ms(s.taken_ms), "cycle": s.cycle, "mode": s.mode,
        "interval_ms": s.interval_ms, "halted": s.halted, "halt_reason": s.halt_reason,
        "trading_day": s.day, "daily_pnl": _dollars(s.daily_pnl),
        "session_realized_pnl": _dollars(s.session_realized),
        "unrealized_pnl": _dollars(s.unrealized),
        "session_pnl": _dollars(s.session_realized + s.unrealized),
        "fills_total": s.fills_total, "net_position": format_count(s.net_position),
        "balance": _dollars(s.balance), "portfolio_value": _dollars(s.portfolio_value),
        "markets": [_market(m) for m in s.markets],
        "recent_fills": [_fill(f) for f in s.fills],
        "cycles": [{"cycle": c.cycle, "ended": iso_ms(c.ended_ms), "duration_ms": c.duration_ms,
                    "requests": c.requests, "tokens": c.tokens, "placed": c.placed,
                    "cancelled": c.cancelled, "failed": c.failed, "fills": c.fills,
                    "markets_quoted": c.markets_quoted} for c in s.cycles],
        "rate_budget": {"tier": s.rate.tier, "read_headroom_pct": s.rate.read_headroom_pct,
                        "write_headroom_pct": s.rate.write_headroom_pct,
                        "rate_limited": s.rate.rate_limited},
    })
    doc.update(_optional(s))
    return doc


def _optional(s: BotSnapshot) -> dict[str, Any]:
    """Sections present only when the bot knows them (lease, cash, reports)."""
    extra: dict[str, Any] = {}
    if s.lease is not None:
        extra["lease"] = {"holder": s.lease.holder, "held": s.lease.held,
                          "standby": s.lease.standby, "expires": iso_ms(s.lease.expires_ms)}
    if s.cash is not None:
        extra["cash"] = {"balance": _dollars(s.cash.balance),
                         "promised": _dollars(s.cash.promised), "free": _dollars(s.cash.free)}
    if s.sections:
        extra["sections"] = {sec.title: dict(sec.rows) for sec in s.sections}
    return extra


def _market(m: MarketView) -> dict[str, Any]:
    doc = {
        "ticker": m.ticker, "quoting": m.quoting, "best_bid": _price(m.best_bid),
        "best_ask": _price(m.best_ask),
        "quotes": [{"side": q.side, "price": format_price(q.price),
                    "remaining": format_count(q.remaining)} for q in m.quotes],
        "net_position": format_count(m.net), "avg_entry": _price(m.avg_entry),
        "realized_pnl": _dollars(m.realized), "unrealized_pnl": _dollars(m.unrealized),
        "fees": _dollars(m.fees),
    }
    if m.breaker is not None:
        doc["breaker"] = m.breaker
    return doc


def _fill(view: FillView) -> dict[str, Any]:
    f = view.fill
    return {"time": iso_ms(f.ts_ms), "ticker": f.ticker, "side": f.side.value,
            "price": format_price(f.price), "count": format_count(f.count),
            "fee": _dollars(f.fee), "realized_pnl": _dollars(view.realized),
            "liquidity": "taker" if f.is_taker else "maker", "fill_id": f.fill_id}


def _dollars(amount: Micros | None) -> str | None:
    return None if amount is None else format_micros(amount)


def _price(value: Price | None) -> str | None:
    return None if value is None else format_price(value)
