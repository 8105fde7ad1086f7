"""The executor against a small fake exchange writer: what it sends and what the overlay keeps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import TypeVar

from dora.bot.execute import UNCONFIRMED_GRACE_MS, Executor, prioritized
from dora.bot.fencing import FencedOrders
from dora.core.cancel_history import GoneClass
from dora.core.diff import Decrease, Plan
from dora.core.models import (
    CancelResult,
    CancelStatus,
    DecreaseResult,
    OrderRequest,
    PlaceResult,
    PlaceStatus,
    RestingOrder,
    Side,
    TimeInForce,
)
from dora.core.overlay import Overlay, unconfirmed_order
from dora.core.units import Count
from dora.exchange.orders import Sent
from dora.runtime.clock import FakeClock

T = TypeVar("T")

START_MS = 1_767_225_600_000


class FakeWriter:
    """Answers every create with ``place_status`` after ``create_takes_ms`` of (fake) time;
    cancels of ids in ``failing_cancels`` fail, and decreases of ids in ``failing_decreases``."""

    def __init__(self, clock: FakeClock, place_status: PlaceStatus = PlaceStatus.PLACED,
                 create_takes_ms: int = 0, failing_cancels: frozenset[str] = frozenset(),
                 failing_decreases: frozenset[str] = frozenset()):
        self.clock = clock
        self.place_status = place_status
        self.create_takes_ms = create_takes_ms
        self.failing_cancels = failing_cancels
        self.failing_decreases = failing_decreases
        self.placed: list[OrderRequest] = []
        self.decreased: list[str] = []

    def place_order(self, request: OrderRequest) -> PlaceResult:
        return self.place_orders([request])[0]

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        self.clock.advance_ms(self.create_takes_ms)
        self.placed += requests
        return [PlaceResult(r, self.place_status, order_id=f"o-{r.client_order_id}",
                            remaining=r.count, ts_ms=self.clock.now_ms()) for r in requests]

    def cancel_order(self, order_id: str) -> CancelResult:
        return self.cancel_orders([order_id])[0]

    def cancel_orders(self, order_ids: Sequence[str]) -> list[CancelResult]:
        return [CancelResult(i, CancelStatus.FAILED, error_code="internal")
                if i in self.failing_cancels else CancelResult(i, CancelStatus.CANCELLED)
                for i in order_ids]

    def decrease_order(self, order_id: str, reduce_to: Count) -> DecreaseResult:
        self.decreased.append(order_id)
        if order_id in self.failing_decreases:
            return DecreaseResult(order_id, CancelStatus.FAILED, error_code="internal")
        return DecreaseResult(order_id, CancelStatus.CANCELLED, remaining=reduce_to)

    # the client's batch forms: here every list is one request, timed on the fake clock
    def place_batches(self, requests: Sequence[OrderRequest]) -> list[Sent[PlaceResult]]:
        return [self._timed(lambda: self.place_orders(requests))]

    def cancel_batches(self, order_ids: Sequence[str]) -> list[Sent[CancelResult]]:
        return [self._timed(lambda: self.cancel_orders(order_ids))]

    def decrease_orders(self, decreases: Sequence[tuple[str, Count]]
                        ) -> list[Sent[DecreaseResult]]:
        return [self._timed(lambda d=d: [self.decrease_order(*d)]) for d in decreases]

    def _timed(self, send: Callable[[], list[T]]) -> Sent[T]:
        sent_ms = self.clock.now_ms()
        results = send()
        return Sent(results, sent_ms, self.clock.now_ms())


def resting(order_id: str, ticker: str, side: Side, price: int) -> RestingOrder:
    return RestingOrder(order_id, f"dora-{order_id}", ticker, side, price, 500)


def request(ticker: str, side: Side, price: int) -> OrderRequest:
    return OrderRequest(ticker, side, price, 500, client_order_id=f"dora-{ticker}-{side}-{price}")


def make(writer_kwargs: dict[str, object]) -> tuple[Executor, FakeWriter, Overlay, FakeClock]:
    clock = FakeClock(START_MS)
    writer = FakeWriter(clock, **writer_kwargs)
    overlay = Overlay()
    return Executor(writer, overlay, clock, logging.getLogger("dora.test")), writer, overlay, clock


def test_a_failed_cancel_holds_back_the_place_on_that_market_side_only() -> None:
    executor, writer, _, _ = make({"failing_cancels": frozenset({"old-bid"})})
    plan = Plan(
        cancels=(resting("old-bid", "A", Side.BID, 5000), resting("old-ask", "A", Side.ASK, 5600)),
        decreases=(), places=(request("A", Side.BID, 5100), request("A", Side.ASK, 5500),
                              request("B", Side.BID, 4000)),
        kept=(),
    )
    report = executor.execute(plan, {}, batch=True)
    assert [(r.ticker, r.side) for r in writer.placed] == [("A", Side.ASK), ("B", Side.BID)]
    assert (report.cancel_failed, report.place_held, report.placed) == (1, 1, 2)


def test_a_failed_or_unsent_decrease_holds_back_the_places_on_that_market_side() -> None:
    """The order it was to shrink may rest at its full size: another place on the side could
    leave more resting there than the targets (an order whose create is unconfirmed has no id to
    decrease by, so its decrease is never sent)."""
    executor, writer, _, _ = make({"failing_decreases": frozenset({"big-bid"})})
    unconfirmed = unconfirmed_order(request("B", Side.ASK, 5600), START_MS - 1)
    plan = Plan(
        cancels=(),
        decreases=(Decrease(resting("big-bid", "A", Side.BID, 5000), 200),
                   Decrease(resting("big-ask", "A", Side.ASK, 5600), 200),
                   Decrease(unconfirmed, 200)),
        places=(request("A", Side.BID, 4900), request("A", Side.ASK, 5700),
                request("B", Side.ASK, 5700), request("B", Side.BID, 4000)),
        kept=(),
    )
    report = executor.execute(plan, {}, batch=True)
    assert writer.decreased == ["big-bid", "big-ask"]
    assert [(r.ticker, r.side) for r in writer.placed] == [("A", Side.ASK), ("B", Side.BID)]
    assert (report.decrease_failed, report.decreased, report.place_held) == (1, 1, 2)


def test_without_the_lease_every_decrease_is_answered_as_not_sent() -> None:
    """The fence answers each decrease on its own, as the client does: nothing raises, and the
    places on those sides wait."""
    clock = FakeClock(START_MS)
    lost = SimpleNamespace(may_write=lambda: False, may_place=lambda: False)
    fenced = FencedOrders(SimpleNamespace(clock=clock), lost, lost)  # type: ignore[arg-type]
    executor = Executor(fenced, Overlay(), clock, logging.getLogger("dora.test"))
    decreases = tuple(Decrease(resting(f"o{n}", "A", Side.BID, 5000 - 100 * n), 200)
                      for n in range(3))
    report = executor.execute(Plan(cancels=(), decreases=decreases,
                                   places=(request("A", Side.BID, 4600),), kept=()),
                              {}, batch=True)
    assert (report.decrease_failed, report.place_held, report.placed) == (3, 1, 0)


def test_an_unknown_create_is_held_until_well_after_dora_stopped_waiting() -> None:
    executor, _, overlay, clock = make({"place_status": PlaceStatus.UNKNOWN,
                                        "create_takes_ms": 10_000})
    sent_ms = clock.now_ms()
    plan = Plan(cancels=(), decreases=(), places=(request("A", Side.BID, 5100),), kept=())
    executor.execute(plan, {}, batch=True)
    gave_up_ms = sent_ms + 10_000

    # the exchange's data is already newer than the send, but the create may land later
    assert [o.ticker for o in overlay.apply([], as_of_ms=gave_up_ms + 1)] == ["A"]
    assert overlay.apply([], as_of_ms=gave_up_ms + UNCONFIRMED_GRACE_MS + 1) == []


def test_every_execution_event_carries_the_latency_of_its_request() -> None:
    executor, _, _, _ = make({"create_takes_ms": 35})
    plan = Plan(places=(request("A", Side.BID, 5100), request("A", Side.ASK, 5500)))
    batch = executor.execute(plan, {}, batch=True)
    single = executor.execute(plan, {}, batch=False)
    assert [e["latency_ms"] for e in batch.events] == [35, 35]
    assert [e["latency_ms"] for e in single.events] == [35, 35]


class ScriptedCancels(FakeWriter):
    """Cancels answer from a script (order id -> results, one per call) after ``takes_ms``."""

    def __init__(self, clock: FakeClock, script: dict[str, list[CancelResult]],
                 takes_ms: int = 0) -> None:
        super().__init__(clock)
        self.script = script
        self.takes_ms = takes_ms
        self.cancelled: list[str] = []

    def cancel_orders(self, order_ids: Sequence[str]) -> list[CancelResult]:
        self.clock.advance_ms(self.takes_ms)
        self.cancelled += order_ids
        return [self.script[i].pop(0) for i in order_ids]


def scripted(script: dict[str, list[CancelResult]], takes_ms: int = 0
             ) -> tuple[Executor, ScriptedCancels, Overlay, FakeClock]:
    clock = FakeClock(START_MS)
    writer = ScriptedCancels(clock, script, takes_ms)
    overlay = Overlay()
    return Executor(writer, overlay, clock, logging.getLogger("dora.test")), writer, overlay, clock


def gone(order_id: str, **fields: object) -> CancelResult:
    return CancelResult(order_id, CancelStatus.NOT_FOUND, error_code="not_found", **fields)


def cancel_plan(*order_ids: str) -> Plan:
    return Plan(cancels=tuple(resting(i, "A", Side.BID, 5000) for i in order_ids))


def test_already_gone_without_the_exchange_s_time_is_dated_when_the_answer_came() -> None:
    """Dated from the send (or from 0), the entry would expire before the cancel that a retry
    found done had been applied, and a lagging listing would bring the order back."""
    executor, _, overlay, clock = scripted({"o1": [gone("o1")]}, takes_ms=4_000)
    sent_ms = clock.now_ms()
    executor.execute(cancel_plan("o1"), {}, batch=True)
    assert overlay.cancelled == {"o1": sent_ms + 4_000}
    assert overlay.apply([resting("o1", "A", Side.BID, 5000)], as_of_ms=sent_ms + 2_000) == []
    assert executor.last_write_ms == sent_ms + 4_000


def test_a_cancel_is_dated_by_the_exchange_s_own_time_when_it_gives_one() -> None:
    stamped = CancelResult("o1", CancelStatus.CANCELLED, ts_ms=START_MS + 1_234)
    executor, _, overlay, _ = scripted({"o1": [stamped]}, takes_ms=4_000)
    executor.execute(cancel_plan("o1"), {}, batch=True)
    assert overlay.cancelled == {"o1": START_MS + 1_234}


def test_a_release_is_dated_by_the_exchange_s_own_time_even_behind_dora_s_clock() -> None:
    """The balance it is held against is stamped by the exchange's clock: a release dated by
    dora's (here 300 ms ahead) could look newer than a balance that already shows it."""
    stamped = CancelResult("o1", CancelStatus.CANCELLED, reduced_by=500, ts_ms=START_MS - 300)
    executor, _, _, _ = scripted({"o1": [stamped], "o2": [gone("o2")]})
    report = executor.execute(cancel_plan("o1", "o2"), {}, batch=True)
    assert [(w.key, w.written_ms) for w in report.writes] == [("o1", START_MS - 300),
                                                              ("o2", START_MS)]


def test_already_gone_answers_are_classed_by_what_dora_knew() -> None:
    executor, _, _, _ = scripted({
        "filled": [gone("filled")],
        "retried": [gone("retried", after_lost_answer=True)],
        "unanswered": [CancelResult("unanswered", CancelStatus.FAILED,
                                    error_code="outcome_unknown"), gone("unanswered")],
        "twice": [CancelResult("twice", CancelStatus.CANCELLED), gone("twice")],
    })
    first = executor.execute(cancel_plan("filled", "retried", "unanswered", "twice"), {},
                             batch=True)
    again = executor.execute(cancel_plan("unanswered", "twice"), {}, batch=True)
    assert first.gone == {GoneClass.FILL_RACE: 1, GoneClass.LOST_ANSWER: 1, GoneClass.STALE: 0}
    assert again.gone == {GoneClass.FILL_RACE: 0, GoneClass.LOST_ANSWER: 1, GoneClass.STALE: 1}
    classes = [e.get("gone_class") for e in first.events + again.events
               if e["status"] == "ALREADY_GONE"]
    assert classes == ["fill_race", "lost_answer", "lost_answer", "stale"]


def test_once_a_stop_is_requested_nothing_is_placed_but_cancels_still_go() -> None:
    clock = FakeClock(START_MS)
    writer = FakeWriter(clock)
    stop = threading.Event()
    executor = Executor(writer, Overlay(), clock, logging.getLogger("dora.test"),
                        may_place=lambda: not stop.is_set())
    stop.set()
    plan = Plan(cancels=(resting("old", "A", Side.BID, 5000),),
                places=(request("A", Side.BID, 5100),))
    report = executor.execute(plan, {}, batch=True)
    assert (report.cancelled, report.placed, report.place_stopped) == (1, 0, 1)
    assert writer.placed == []


def test_creates_go_closes_first_then_the_markets_a_stale_plan_left_then_as_planned() -> None:
    def request(ticker: str, n: int, tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
        return OrderRequest(ticker, Side.BID, 5000, 100, f"dora-{ticker}-{n}", time_in_force=tif)

    planned = [request("A", 0), request("A", 1), request("B", 0), request("C", 0),
               request("C", 1, TimeInForce.IOC), request("D", 0)]
    ordered = prioritized(planned, frozenset({"D", "B"}))
    assert [r.client_order_id for r in ordered] == [
        "dora-C-1", "dora-B-0", "dora-D-0", "dora-A-0", "dora-A-1", "dora-C-0"]
    assert prioritized(planned, frozenset()) == [planned[4], *planned[:4], planned[5]]
