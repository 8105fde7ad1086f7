"""The background log writer: nothing lost at a clean stop, drops counted when DynamoDB stalls,
and the loop never waits for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dora.core.errors import StoreError
from dora.store.logwriter import BackgroundLogWriter
from dora.store.store import LogItemsRefused, Store
from dora.store.tables import DECISION_LOG, EXECUTION_LOG, EXECUTION_SORT_KEY

LOG = logging.getLogger("dora.test")


class Sink:
    """Records what it was asked to write; ``gate`` (when set) holds every write until it opens;
    ``script`` answers the first writes (an exception to raise, or the items to leave
    unprocessed)."""

    def __init__(self, gate: threading.Event | None = None,
                 script: Sequence[Exception | int] = ()) -> None:
        self.gate = gate
        self.script = list(script)
        self.batches: list[tuple[str, list[Mapping[str, Any]]]] = []
        self.calls = 0

    def __call__(self, table: str, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            self.batches.append((table, list(items[:-step])))
            return [dict(i) for i in items[-step:]]
        self.batches.append((table, list(items)))
        return []

    def written(self) -> list[Any]:
        return [item["n"] for _, items in self.batches for item in items]


def items(start: int, count: int) -> list[dict[str, Any]]:
    return [{"n": n} for n in range(start, start + count)]


def test_a_clean_stop_writes_everything_in_order_in_batches_of_one_table() -> None:
    sink = Sink()
    writer = BackgroundLogWriter(sink, LOG)
    writer.submit(EXECUTION_LOG, items(0, 30))
    writer.submit(DECISION_LOG, items(30, 3))
    writer.submit(EXECUTION_LOG, items(33, 2))
    assert writer.close(5) == 0
    assert sink.written() == list(range(35))
    assert all(len(batch) <= 25 for _, batch in sink.batches)
    assert [table for table, _ in sink.batches] == [EXECUTION_LOG, EXECUTION_LOG, DECISION_LOG,
                                                    EXECUTION_LOG]
    stats = writer.stats()
    assert (stats.backlog, stats.dropped, stats.written) == (0, 0, 35)


def test_while_dynamodb_stalls_submit_never_waits_and_what_does_not_fit_is_counted() -> None:
    gate = threading.Event()
    sink = Sink(gate)
    writer = BackgroundLogWriter(sink, LOG, capacity=50)
    returned = threading.Event()

    def loop() -> None:  # the loop's side: twenty cycles' worth of rows
        for cycle in range(20):
            writer.submit(EXECUTION_LOG, items(cycle * 5, 5))
        returned.set()

    threading.Thread(target=loop, daemon=True).start()
    assert returned.wait(5), "submit waited for a stalled DynamoDB"
    assert not writer.flush(0.2)  # still stalled
    stats = writer.stats()
    assert (stats.backlog, stats.dropped) == (50, 50)
    gate.set()
    assert writer.flush(5)
    assert len(sink.written()) == 50 and writer.stats().dropped == 50


def test_failed_and_unprocessed_writes_are_sent_again_until_they_land() -> None:
    sink = Sink(script=[StoreError("throttled"), StoreError("timeout"), 3])
    writer = BackgroundLogWriter(sink, LOG)
    writer.submit(EXECUTION_LOG, items(0, 10))
    assert writer.flush(10)
    assert sink.written() == list(range(10))
    stats = writer.stats()
    assert (stats.written, stats.dropped, stats.failed_writes) == (10, 0, 2)


def test_a_batch_dynamodb_refuses_is_dropped_and_counted_and_the_rest_goes_on() -> None:
    sink = Sink(script=[LogItemsRefused("ValidationException")])
    writer = BackgroundLogWriter(sink, LOG, batch_items=5)
    writer.submit(EXECUTION_LOG, items(0, 8))
    assert writer.flush(5)
    assert sink.written() == [5, 6, 7]
    assert writer.stats().dropped == 5


def test_an_unexpected_error_drops_its_batch_and_the_thread_goes_on() -> None:
    sink = Sink(script=[TypeError("not serialisable")])
    writer = BackgroundLogWriter(sink, LOG, batch_items=5)
    writer.submit(EXECUTION_LOG, items(0, 8))
    assert writer.flush(5)
    writer.submit(DECISION_LOG, items(8, 2))
    assert writer.flush(5)
    assert sink.written() == [5, 6, 7, 8, 9]
    stats = writer.stats()
    assert (stats.written, stats.dropped, stats.failed_writes) == (5, 5, 1)


def test_a_stop_that_runs_out_of_time_counts_what_it_leaves() -> None:
    gate = threading.Event()
    writer = BackgroundLogWriter(Sink(gate), LOG)
    writer.submit(EXECUTION_LOG, items(0, 40))
    left = writer.close(0.2)
    gate.set()
    assert left == 40
    assert writer.stats().dropped >= 15  # the queued rows; the batch in flight may still land
    assert writer.submit(EXECUTION_LOG, items(40, 2)) == 2  # after the stop: dropped, counted


def test_rows_land_in_dynamodb_through_the_store(make_store: Callable[..., Store],
                                                 resource: Any) -> None:
    store = make_store()
    store.create_tables()
    writer = BackgroundLogWriter(store.write_log_batch, LOG)
    events = [{"bot_run_id": "run-1", "decision_id": f"d{n}", "event_type": "ORDER_RESULT",
               "status": "ACCEPTED", "n": n} for n in range(60)]
    writer.submit(EXECUTION_LOG, store.execution_items(events))
    writer.submit(DECISION_LOG, store.decision_items([{"market_id": "KXA", "n": 1}]))
    assert writer.close(10) == 0
    execution = resource.Table("dora_execution_log_test").scan()["Items"]
    assert sorted(int(i["n"]) for i in execution) == list(range(60))
    assert len(resource.Table("dora_decision_log_test").scan()["Items"]) == 1


def test_a_row_dynamodb_cannot_hold_exactly_drops_its_batch_only(
        make_store: Callable[..., Store], resource: Any) -> None:
    """Values are encoded on the writer's thread: a float (a bug in a record) is refused there,
    with its batch, and counted; the loop never sees it and the other batches land."""
    store = make_store()
    store.create_tables()
    writer = BackgroundLogWriter(store.write_log_batch, LOG, batch_items=2)
    rows = [{"market_id": "KXA", "n": n, "fair": 0.5 if n == 1 else Fraction(1, 4)}
            for n in range(4)]
    writer.submit(DECISION_LOG, store.decision_items(rows))
    assert writer.flush(10)
    stored = resource.Table("dora_decision_log_test").scan()["Items"]
    assert sorted((int(i["n"]), i["fair"]) for i in stored) == [(2, Decimal("0.25")),
                                                                 (3, Decimal("0.25"))]
    assert writer.stats().dropped == 2


def test_a_batch_dynamodb_refuses_is_dropped_with_client_side_validation_off(
        make_store: Callable[..., Store], resource: Any) -> None:
    """botocore does not check requests (BOTO_CONFIG): DynamoDB does, and a batch it refuses
    (here: a row without the table's sort key) is dropped and counted, the next one lands."""
    with pytest.raises(ClientError):  # DynamoDB's answer: botocore would refuse the empty name
        resource.meta.client.describe_table(TableName="")
    store = make_store()
    store.create_tables()
    bad = store.execution_items([{"bot_run_id": "r", "decision_id": "d1", "n": 1}])
    del bad[0][EXECUTION_SORT_KEY]
    with pytest.raises(LogItemsRefused, match="ValidationException"):
        store.write_log_batch(EXECUTION_LOG, bad)
    writer = BackgroundLogWriter(store.write_log_batch, LOG, batch_items=1)
    good = store.execution_items([{"bot_run_id": "r", "decision_id": "d2", "n": 2}])
    writer.submit(EXECUTION_LOG, [*bad, *good])
    assert writer.flush(10)
    assert writer.stats().dropped == 1
    stored = resource.Table("dora_execution_log_test").scan()["Items"]
    assert [int(i["n"]) for i in stored] == [2]
