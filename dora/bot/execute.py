"""Send a plan to the exchange: cancels first (freeing collateral), then decreases, then places.

Batch mode hands whole lists to the client, which splits them into batches the write bucket can
hold and sends the batches of one list together (docs/architecture.md#the-loop): every cancel
batch (and decrease) of the plan has been answered before the first place goes out, and the place
batches then go out together. Per-market mode sends the same plan one order at a time.
Per-order failures are logged with market, order and error and left to the next cycle's
reconcile; nothing is retried mid-cycle.
Every write is recorded in the read-lag overlay, dated by the exchange's own timestamp or, without
one, by when its answer arrived (never earlier: the write may have applied at any moment until
then). For the promised-cash ledger a place is dated the same way, a release as early as it may
have applied. A place is held back (to the next cycle) when a cancel on the same market and side
failed: the order it was to replace may still be resting. Once a stop is requested nothing is
placed. A cancel answered "already gone" is classed (:mod:`dora.core.cancel_history`).
``confirm``, when given, sees the places after the cancels and decreases went out (with the report
so far) and returns the ones still to send: the cash check re-runs there on what the exchange
really freed, since an order dora cancels may have filled first. Kept orders close to lapsing get
their expiry renewed (:meth:`Executor.renew`, sent by :mod:`dora.bot.renew`, policy in
:mod:`dora.core.renewal`); a renewal moves no cash, so it writes nothing to the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from dora.bot.phases import PhaseTimes
from dora.bot.renew import Renewer
from dora.core.cancel_history import CancelHistory, GoneClass
from dora.core.diff import Decrease, Plan
from dora.core.fees import taker_fee_bound
from dora.core.fencing import PLAN_STALE, STOPPING
from dora.core.ledger import CashWrite, WriteKind
from dora.core.models import (
    CancelResult,
    CancelStatus,
    DecreaseResult,
    OrderRequest,
    PlaceResult,
    PlaceStatus,
    RenewResult,
    RestingOrder,
    TimeInForce,
)
from dora.core.overlay import Overlay, is_unconfirmed, request_expiry_ms, unconfirmed_order
from dora.core.renewal import Renewals
from dora.core.units import Count, format_count, format_price
from dora.exchange.orders import Sent
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event

# How long after dora gave up on a create it keeps treating the order as possibly resting
# (never re-placed, never cancelled by id) unless a listing shows it first. Assumption: the
# exchange applies or drops a request within this time of the client's read timeout.
UNCONFIRMED_GRACE_MS = 10_000

T = TypeVar("T")
R = TypeVar("R")
Confirm = Callable[[Sequence[OrderRequest], "ExecutionReport"], Sequence[OrderRequest]]


class OrderWriter(Protocol):
    def place_order(self, request: OrderRequest) -> PlaceResult: ...
    def place_batches(self, requests: Sequence[OrderRequest]) -> list[Sent[PlaceResult]]: ...
    def cancel_order(self, order_id: str) -> CancelResult: ...
    def cancel_batches(self, order_ids: Sequence[str]) -> list[Sent[CancelResult]]: ...
    def decrease_orders(
        self, decreases: Sequence[tuple[str, Count]]
    ) -> list[Sent[DecreaseResult]]: ...
    def renew_order(self, order: RestingOrder, expiration_s: int) -> RenewResult: ...
    def spare_write_tokens(self) -> int: ...  # (renewals: dora.bot.renew.RenewWriter)


@dataclass(frozen=True, slots=True)
class Answered(Generic[R]):
    """One result, when the request that carried it was sent and when its answer arrived, and
    which batch request carried it (None: a single-order request)."""

    result: R
    sent_ms: int
    returned_ms: int
    batch: str | None = None

    @property
    def latency_ms(self) -> int:
        return self.returned_ms - self.sent_ms


@dataclass
class ExecutionReport:
    cancelled: int = 0
    already_gone: int = 0
    cancel_failed: int = 0
    decreased: int = 0
    decrease_failed: int = 0
    placed: int = 0
    place_rejected: int = 0
    place_unknown: int = 0
    place_held: int = 0
    place_stopped: int = 0
    place_deferred: int = 0  # creates a stale plan left to the next cycle (not sent)
    renewed: int = 0  # expiry-only amends the exchange confirmed
    renew_unknown: int = 0  # their answer was lost (the overlay assumes they applied)
    renew_failed: int = 0  # refused or not sent
    renew_deferred: int = 0  # due, but left to a later cycle by the write budget
    gone: dict[GoneClass, int] = field(default_factory=lambda: dict.fromkeys(GoneClass, 0))
    events: list[dict[str, Any]] = field(default_factory=list)
    writes: list[CashWrite] = field(default_factory=list)  # for the promised-cash ledger

    @property
    def operations(self) -> int:
        return (
            self.cancelled + self.already_gone + self.cancel_failed + self.decreased
            + self.decrease_failed + self.placed + self.place_rejected + self.place_unknown
        )

    @property
    def failures(self) -> int:
        return self.cancel_failed + self.decrease_failed + self.place_rejected + self.place_unknown

    def merge(self, other: ExecutionReport) -> None:
        for name in (
            "cancelled", "already_gone", "cancel_failed", "decreased", "decrease_failed",
            "placed", "place_rejected", "place_unknown", "place_held", "place_stopped",
            "place_deferred", "renewed", "renew_unknown", "renew_failed", "renew_deferred",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for gone_class, count in other.gone.items():
            self.gone[gone_class] += count
        self.events.extend(other.events)
        self.writes.extend(other.writes)


class Executor:
    def __init__(
        self, writer: OrderWriter, overlay: Overlay, clock: Clock, logger: logging.Logger,
        *, may_place: Callable[[], bool] = lambda: True, phases: PhaseTimes | None = None,
    ) -> None:
        self._writer = writer
        self._overlay = overlay
        self._clock = clock
        self._log = logger
        self._may_place = may_place
        self._phases = phases or PhaseTimes(clock)
        self.history = CancelHistory()
        self.last_write_ms = 0  # the latest moment one of dora's writes can have taken effect
        self._batches = 0  # batch requests sent so far: names each one for the execution log
        self._deferred: frozenset[str] = frozenset()  # markets whose creates the last phase left
        self._renewer = Renewer(writer, overlay, clock, logger, may_renew=may_place,
                                on_write=self._wrote, grace_ms=UNCONFIRMED_GRACE_MS)

    def execute(
        self, plan: Plan, decision_ids: Mapping[str, str], *, batch: bool,
        confirm: Confirm | None = None,
    ) -> ExecutionReport:
        report = ExecutionReport()
        self.history.prune(self._clock.now_ms())
        with self._phases.timing("cancels"):
            cancellable = [o for o in plan.cancels if not is_unconfirmed(o)]
            uncancelled = self._cancel(cancellable, decision_ids, report, batch=batch)
            uncancelled += [o for o in plan.cancels if is_unconfirmed(o)]
            undecreased = self._decrease(
                [d for d in plan.decreases if not is_unconfirmed(d.order)], decision_ids, report)
            undecreased += [d.order for d in plan.decreases if is_unconfirmed(d.order)]
        places = self._hold_back(plan.places, uncancelled + undecreased, decision_ids, report)
        if places and not self._may_place():
            report.place_stopped += len(places)
            log_event(self._log, EventType.ORDER_RESULT, "stopping: places not sent",
                      status="STOPPED", count=len(places))
            places = []
        if confirm is not None and places:
            places = list(confirm(places, report))
        if batch:
            places = prioritized(places, self._deferred)
        with self._phases.timing("places"):
            self._place(places, decision_ids, report, batch=batch)
        return report

    def renew(
        self, renewals: Renewals, due: Sequence[RestingOrder], decision_ids: Mapping[str, str]
    ) -> ExecutionReport:
        """Renew the expiry of ``due`` within this cycle's spare write tokens (:mod:`.renew`)."""
        with self._phases.timing("places"):
            counts = self._renewer.renew(renewals, due, lambda o: _order_fields(o, decision_ids))
        return ExecutionReport(renewed=counts.renewed, renew_unknown=counts.unknown,
                               renew_failed=counts.failed, renew_deferred=counts.deferred)

    def _wrote(self, returned_ms: int, exchange_ts_ms: int = 0) -> None:
        self.last_write_ms = max(self.last_write_ms, returned_ms, exchange_ts_ms)

    def _hold_back(
        self, places: Sequence[OrderRequest], uncancelled: Sequence[RestingOrder],
        decision_ids: Mapping[str, str], report: ExecutionReport,
    ) -> list[OrderRequest]:
        """Places on a market side where an order meant to go (or to shrink) may still rest as
        it was wait a cycle: sending them could double the quote and pass the limits the risk
        check relied on."""
        blocked = {(o.ticker, o.side) for o in uncancelled}
        kept = [r for r in places if (r.ticker, r.side) not in blocked]
        for request in places:
            if (request.ticker, request.side) in blocked:
                report.place_held += 1
                log_event(self._log, EventType.ORDER_RESULT,
                          "place held: an order on its side could not be cancelled or decreased",
                          level=logging.WARNING, status="HELD",
                          **_request_fields(request, decision_ids))
        return kept

    def _cancel(
        self, orders: list[RestingOrder], decision_ids: Mapping[str, str],
        report: ExecutionReport, *, batch: bool,
    ) -> list[RestingOrder]:
        """Returns the orders whose cancel failed."""
        if not orders:
            return []
        by_id = {o.order_id: o for o in orders}
        if batch:
            log_event(self._log, EventType.BATCH_CANCEL, "cancelling orders", count=len(orders))
        answers = self._send(self._writer.cancel_batches, self._writer.cancel_order, list(by_id),
                             batch=batch)
        for answer in answers:
            self._record_cancel(by_id[answer.result.order_id], answer, decision_ids, report,
                                batch=batch)
        if batch:
            log_event(self._log, EventType.BATCH_CANCEL_SUMMARY, "cancel summary",
                      requested=len(orders), cancelled=report.cancelled,
                      already_gone=report.already_gone, failed=report.cancel_failed)
        return [by_id[a.result.order_id] for a in answers
                if a.result.status is CancelStatus.FAILED]

    def _send(
        self, many: Callable[[list[T]], list[Sent[R]]], one: Callable[[T], R], items: list[T], *,
        batch: bool,
    ) -> list[Answered[R]]:
        """Every result, with when the request that carried it was sent and answered and (in
        batch mode) which batch request carried it."""
        if not batch:
            return [self._send_one(one, item) for item in items]
        try:
            sent = many(items)
        except Exception:  # some batches may have been applied: the stop waits for them too
            self._wrote(self._clock.now_ms())
            raise
        answers: list[Answered[R]] = []
        for request in sent:
            self._batches += 1
            self._wrote(request.returned_ms)
            answers += [Answered(r, request.sent_ms, request.returned_ms, str(self._batches))
                        for r in request.results]
        return answers

    def _send_one(self, one: Callable[[T], R], item: T) -> Answered[R]:
        started = self._clock.now_ms()
        result = one(item)
        returned = self._clock.now_ms()
        self._wrote(returned)
        return Answered(result, started, returned)

    def _record_cancel(
        self, order: RestingOrder, answer: Answered[CancelResult],
        decision_ids: Mapping[str, str], report: ExecutionReport, *, batch: bool,
    ) -> None:
        result, sent_ms, returned_ms = answer.result, answer.sent_ms, answer.returned_ms
        fields = _order_fields(order, decision_ids) | {"latency_ms": answer.latency_ms}
        # a release is dated as early as it may have applied (a late date could count it twice):
        # the exchange's own time when it gives one (the balance it is held against is on the
        # exchange's clock: dora's may run ahead), else when its own request was sent, the
        # batches sent beside it notwithstanding
        if result.status is CancelStatus.FAILED:
            report.cancel_failed += 1
            if result.error_code == "outcome_unknown":
                self.history.record_unanswered(order.order_id, returned_ms)
            event = EventType.BATCH_CANCEL_FAILED if batch else EventType.ORDER_CANCEL_FAILED
            log_event(self._log, event, "cancel failed", level=logging.WARNING,
                      error_code=result.error_code, error_msg=result.error_message, **fields)
            report.events.append(_exec_event("ORDER_CANCEL", "ERROR", fields, result.error_code,
                                             answer.batch))
            return
        self._wrote(returned_ms, result.ts_ms)
        self._overlay.record_cancelled(order.order_id, result.ts_ms or returned_ms)
        if result.status is CancelStatus.NOT_FOUND:
            gone = self.history.classify(order.order_id,
                                         after_lost_answer=result.after_lost_answer)
            report.already_gone += 1
            report.gone[gone] += 1
            fields["gone_class"] = gone.value
            status = "ALREADY_GONE"
            report.writes.append(_released(WriteKind.GONE, order, 0, result.ts_ms or sent_ms))
        else:
            report.cancelled += 1
            status = "CANCELLED"
            report.writes.append(_released(WriteKind.CANCEL, order, result.reduced_by,
                                           result.ts_ms or sent_ms))
        self.history.record_gone(order.order_id, returned_ms)
        log_event(self._log, EventType.ORDER_CANCELLED, "order cancelled", status=status, **fields)
        report.events.append(_exec_event("ORDER_CANCEL", status, fields, "", answer.batch))

    def _decrease(
        self, decreases: Sequence[Decrease], decision_ids: Mapping[str, str],
        report: ExecutionReport,
    ) -> list[RestingOrder]:
        """Every decrease of the plan, sent together. Returns the orders whose decrease
        failed."""
        if not decreases:
            return []
        try:
            sent = self._writer.decrease_orders(
                [(d.order.order_id, d.reduce_to) for d in decreases])
        except Exception:  # some may have been applied: the stop waits for them too
            self._wrote(self._clock.now_ms())
            raise
        failed = []
        for decrease, request in zip(decreases, sent, strict=True):
            if not self._record_decrease(decrease, request, decision_ids, report):
                failed.append(decrease.order)
        return failed

    def _record_decrease(
        self, decrease: Decrease, request: Sent[DecreaseResult],
        decision_ids: Mapping[str, str], report: ExecutionReport,
    ) -> bool:
        """Records the answer; False when the decrease failed (the order rests as it was)."""
        order = decrease.order
        (result,) = request.results
        sent_ms, returned_ms = request.sent_ms, request.returned_ms
        self._wrote(returned_ms, result.ts_ms)
        fields = _order_fields(order, decision_ids)
        fields["reduce_to"] = format_count(decrease.reduce_to)
        if result.status is CancelStatus.FAILED:
            report.decrease_failed += 1
            log_event(self._log, EventType.ORDER_DECREASE_FAILED, "decrease failed",
                      level=logging.WARNING,
                      error_code=result.error_code, error_msg=result.error_message, **fields)
            return False
        if result.status is CancelStatus.NOT_FOUND:
            self._overlay.record_cancelled(order.order_id, result.ts_ms or returned_ms)
            self.history.record_gone(order.order_id, returned_ms)
            report.already_gone += 1
            report.writes.append(_released(WriteKind.GONE, order, 0, result.ts_ms or sent_ms))
            return True
        self._overlay.record_decreased(order.order_id, result.remaining,
                                       result.ts_ms or returned_ms)
        report.decreased += 1
        report.writes.append(_released(WriteKind.DECREASE, order,
                                       order.remaining - result.remaining,
                                       result.ts_ms or sent_ms))
        log_event(self._log, EventType.ORDER_RESULT, "order decreased", status="DECREASED",
                  **fields)
        return True

    def _place(
        self, requests: list[OrderRequest], decision_ids: Mapping[str, str],
        report: ExecutionReport, *, batch: bool,
    ) -> None:
        if not requests:
            return
        if batch:
            log_event(self._log, EventType.BATCH_PLACE, "placing orders", count=len(requests))
        answers = self._send(self._writer.place_batches, self._writer.place_order, requests,
                             batch=batch)
        kept_back: dict[str, list[str]] = {STOPPING: [], PLAN_STALE: []}  # code -> markets
        for answer in answers:
            result = answer.result
            if result.error_code in kept_back:  # not sent: not a failure, no per-order result
                kept_back[result.error_code].append(result.request.ticker)
            else:
                self._record_place(answer, decision_ids, report, batch=batch)
        self._report_kept_back(len(kept_back[STOPPING]), len(kept_back[PLAN_STALE]), report)
        self._deferred = frozenset(kept_back[PLAN_STALE])
        if batch:
            log_event(self._log, EventType.BATCH_PLACE_SUMMARY, "place summary",
                      requested=len(requests), placed=report.placed,
                      rejected=report.place_rejected, unknown=report.place_unknown,
                      deferred=report.place_deferred, stopped=report.place_stopped)

    def _report_kept_back(self, stopped: int, deferred: int, report: ExecutionReport) -> None:
        """One line per kind of create not sent: the waves a stop kept back, and those left to
        the next cycle because the plan grew older than ``max_plan_age_ms``."""
        if stopped:  # as for a stop before the phase
            report.place_stopped += stopped
            log_event(self._log, EventType.ORDER_RESULT, "stopping: later waves not sent",
                      status="STOPPED", count=stopped)
        if deferred:
            report.place_deferred += deferred
            log_event(self._log, EventType.ORDER_RESULT,
                      "plan older than max_plan_age_ms: creates left to the next cycle",
                      level=logging.WARNING, status="DEFERRED", count=deferred)

    def _record_place(
        self, answer: Answered[PlaceResult], decision_ids: Mapping[str, str],
        report: ExecutionReport, *, batch: bool,
    ) -> None:
        result, sent_ms, returned_ms = answer.result, answer.sent_ms, answer.returned_ms
        request = result.request
        fields = _request_fields(request, decision_ids) | {
            "order_id": result.order_id, "latency_ms": answer.latency_ms}
        if result.status is PlaceStatus.REJECTED:
            report.place_rejected += 1
            event = EventType.BATCH_PLACE_FAILED if batch else EventType.ORDER_PLACE_FAILED
            log_event(self._log, event, "order rejected", level=logging.WARNING,
                      error_code=result.error_code, error_msg=result.error_message, **fields)
            report.events.append(_exec_event("ORDER_RESULT", "REJECTED", fields,
                                             result.error_code, answer.batch))
            return
        if result.status is PlaceStatus.UNKNOWN:
            report.place_unknown += 1
            # The exchange may still apply a create after dora stopped waiting for it.
            self._overlay.record_placed(unconfirmed_order(request, sent_ms),
                                        returned_ms + UNCONFIRMED_GRACE_MS)
            report.writes.append(_placed(request, returned_ms + UNCONFIRMED_GRACE_MS))
            log_event(self._log, EventType.ORDER_RESULT, "outcome unknown; reconcile decides",
                      level=logging.WARNING, status="UNKNOWN", error_msg=result.error_message,
                      **fields)
            report.events.append(_exec_event("ORDER_RESULT", "ERROR", fields, "unknown_outcome",
                                             answer.batch))
            return
        report.placed += 1
        self._wrote(returned_ms, result.ts_ms)
        # dated as late as it may have applied: a promise dated too early could look already
        # reflected in a balance that does not show it yet
        report.writes.append(_placed(request, result.ts_ms or returned_ms))
        if result.remaining > 0:
            order = RestingOrder(
                order_id=result.order_id, client_order_id=request.client_order_id,
                ticker=request.ticker, side=request.side, price=request.price,
                remaining=result.remaining, filled=result.filled, created_ms=sent_ms,
                expires_ms=request_expiry_ms(request),
            )
            self._overlay.record_placed(order, result.ts_ms or returned_ms)
        log_event(self._log, EventType.ORDER_PLACED, "order placed", status="ACCEPTED", **fields)
        report.events.append(_exec_event("ORDER_RESULT", "ACCEPTED", fields, "", answer.batch))


def _placed(request: OrderRequest, written_ms: int) -> CashWrite:
    fees = 0 if request.post_only else taker_fee_bound(request.side, request.price, request.count)
    return CashWrite(WriteKind.PLACE, request.client_order_id, request.ticker, request.side,
                     request.price, request.count, written_ms, fees)


def _released(kind: WriteKind, order: RestingOrder, count: Count, written_ms: int) -> CashWrite:
    return CashWrite(kind, order.order_id, order.ticker, order.side, order.price, count,
                     written_ms)


def _order_fields(order: RestingOrder, decision_ids: Mapping[str, str]) -> dict[str, Any]:
    return {
        "market": order.ticker, "order_id": order.order_id,
        "client_order_id": order.client_order_id, "side": order.side.value,
        "price": format_price(order.price), "size": format_count(order.remaining),
        "decision_id": decision_ids.get(order.ticker, ""),
    }


def _request_fields(request: OrderRequest, decision_ids: Mapping[str, str]) -> dict[str, Any]:
    return {
        "market": request.ticker, "client_order_id": request.client_order_id,
        "side": request.side.value, "price": format_price(request.price),
        "size": format_count(request.count), "decision_id": decision_ids.get(request.ticker, ""),
    }


BATCH_KEY = "batch"  # an execution event's batch request (absent: a single-order request)


def _exec_event(
    event_type: str, status: str, fields: Mapping[str, Any], error_code: str = "",
    batch: str | None = None,
) -> dict[str, Any]:
    event = {"event_type": event_type, "status": status, **fields}
    if error_code:
        event["error_code"] = error_code
    if batch is not None:
        event[BATCH_KEY] = batch
    return event


def prioritized(requests: list[OrderRequest], deferred: frozenset[str]) -> list[OrderRequest]:
    """The creates in the order their waves should go: closes that take liquidity now first,
    then the markets whose creates the last phase left for lack of time (so on a tier too small
    for every requote each market gets its turn, rather than the same last ones never quoted),
    then the rest; otherwise as planned."""
    return sorted(requests, key=lambda r: (r.time_in_force is TimeInForce.GTC,
                                           r.ticker not in deferred))
