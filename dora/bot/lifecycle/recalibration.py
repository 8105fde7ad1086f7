"""Continuous recalibration: every ``recalibrate_every_s`` the markets, portfolio and cash checks
run again, and dora's view is checked against the exchange's and corrected, each correction a
DRIFT event with before, after and what was done.

- Cash: the exchange's balance reflects every write up to the read lag's as-of time
  (``GET /exchange/user_data_timestamp``, read just before the balance; docs/kalshi-notes.md).
  A promise of the promised-cash ledger dated at or before that time is already in the balance;
  the ledger keeps it only while the balance's own timestamp (the time of its last change) is
  older, which after a quiet spell can last indefinitely and misstate free cash. Such promises are
  dropped. (Only this check relies on the as-of time for the balance; every cycle's settle keeps
  to the balance's own timestamp.)
- Resting orders: an order with dora's prefix, in a market this process trades, that this run
  neither placed nor knows from its read-lag overlay (an earlier run's, or a create whose answer
  was lost and that took effect later) is adopted when it matches one of the last cycle's targets
  (it is kept and its fills are attributed) and cancelled otherwise. Orders without dora's prefix
  are never touched.
- Positions: the reconciler compares them with the exchange's every few cycles and adopts a
  difference seen twice (:meth:`dora.bot.reconcile.Reconciler.sync_positions`).
- Rate limits: after a 429 the account's limits are read again at the next cycle (then at most
  every :data:`LIMITS_REREAD_S`); limits that changed become the new ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dora.bot.lifecycle.calibration import Calibrator, budget_text
from dora.bot.lifecycle.parts import LifecycleParts, log_drift
from dora.core.calibration import RECALIBRATED, CalibrationReport
from dora.core.errors import NotFoundError
from dora.core.ledger import BalanceTime
from dora.core.models import RestingOrder
from dora.core.overlay import is_unconfirmed
from dora.core.strategies.base import TargetQuote
from dora.core.tiers import Tier
from dora.core.units import format_micros, format_price
from dora.exchange.wire import WireFormatError

LIMITS_REREAD_S = 30.0
Targets = Mapping[str, Sequence[TargetQuote]]


class Recalibrator:
    def __init__(self, parts: LifecycleParts, calibrator: Calibrator) -> None:
        self._p = parts
        self._calibrator = calibrator
        self._last = parts.clock.monotonic()
        self._limits_read: float | None = None  # when the limits were last read after a 429

    def due(self) -> bool:
        every = self._p.state.global_config.recalibrate_every_s
        return self._p.clock.monotonic() - self._last >= every

    def run(self, targets: Targets, managed: Sequence[str]) -> CalibrationReport:
        self._last = self._p.clock.monotonic()
        report = self._calibrator.run(RECALIBRATED, "recalibration")
        self.correct_cash()
        self.correct_orders(targets, managed)
        return report

    # -- cash ---------------------------------------------------------------------------------
    def correct_cash(self) -> None:
        p, state = self._p, self._p.state
        as_of = p.client.fetch_user_data_timestamp()
        p.reconciler.sync_balance(state)
        before = state.cash_view()
        stale = [x for x in state.cash_ledger.promises if x.written_ms <= as_of]
        if before is None or not stale:
            return
        state.cash_ledger = state.cash_ledger.settle(BalanceTime(as_of, as_of))
        after = state.cash_view()
        log_drift(p, "cash", "free cash corrected: the balance already shows writes the "
                  "promised-cash ledger still counted", before=format_micros(before.free),
                  after=format_micros(after.free if after else before.balance),
                  balance=format_micros(before.balance), stale_entries=len(stale),
                  reads_as_of_ms=as_of, action="forgot the promises the balance shows")

    # -- resting orders -----------------------------------------------------------------------
    def correct_orders(self, targets: Targets, managed: Sequence[str]) -> None:
        p, state = self._p, self._p.state
        p.reconciler.sync_orders(state)
        unknown = self._unknown(managed)
        wanted = {(t, q.side, q.price) for t, quotes in targets.items() for q in quotes}
        adopt = [o for o in unknown if (o.ticker, o.side, o.price) in wanted]
        cancel = [o for o in unknown if (o.ticker, o.side, o.price) not in wanted]
        for order in adopt:
            state.decision_ids[order.order_id] = f"adopted:{p.run_id}"
            state.client_order_ids[order.order_id] = order.client_order_id
            log_drift(p, "resting_order", "an order of dora's this run did not place matches a "
                      "target: adopted", **_order_fields(order), before="unknown",
                      after="resting", action="adopted")
        if cancel:
            report = p.quoter.cancel_orders(state, cancel, batch=True)
            for order in cancel:
                log_drift(p, "resting_order", "an order of dora's this run did not place "
                          "matches no target: cancelled", **_order_fields(order),
                          before="resting", after="cancel sent", action="cancelled",
                          cancelled=report.cancelled, already_gone=report.already_gone)

    def _unknown(self, managed: Sequence[str]) -> list[RestingOrder]:
        p, state = self._p, self._p.state
        markets = set(managed)
        pending = {order.client_order_id for order, _ in p.overlay.placed.values()}
        return [o for o in state.resting
                if o.client_order_id.startswith(p.id_prefix) and o.ticker in markets
                and not is_unconfirmed(o) and not o.order_id.startswith("pending:")
                and o.order_id not in state.decision_ids and o.client_order_id not in pending]

    # -- rate limits --------------------------------------------------------------------------
    def limits_if_refused(self) -> None:
        """After a 429, read the account's limits again; changed ones become the ceiling."""
        p = self._p
        limiter = p.client.limiter
        now = p.clock.monotonic()
        if not limiter.refused_since_adopt:
            return
        if self._limits_read is not None and now - self._limits_read < LIMITS_REREAD_S:
            return
        self._limits_read = now
        try:
            tier = p.client.fetch_account_limits()
        except (NotFoundError, WireFormatError):
            return  # not offered: the AIMD cut alone finds the budget
        before = limiter.tier
        limiter.adopt(tier)
        if tier != before:
            log_drift(p, "rate_limits", "the account's rate limits changed",
                      before=_tier_text(before), after=_tier_text(tier),
                      action="the client's buckets follow the account's limits")


def _order_fields(order: RestingOrder) -> dict[str, object]:
    return {"market": order.ticker, "order_id": order.order_id,
            "client_order_id": order.client_order_id, "side": order.side.value,
            "price": format_price(order.price)}


def _tier_text(tier: Tier) -> str:
    return f"{tier.name}: {budget_text(tier)}"
