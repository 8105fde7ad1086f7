from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from dora.core.models import Fill, Side
from dora.runtime.clock import FakeClock
from dora.store.store import Store
from tests.store.conftest import walk

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
THIRTY_DAYS_S = 30 * 86_400


def _fill(fill_id: str, order_id: str = "o-1", ts_ms: int = T0 + 123,
          side: Side = Side.BID) -> Fill:
    return Fill(fill_id, order_id, "KXA", side, price=5_600, count=250, fee=17_500,
                is_taker=False, ts_ms=ts_ms)


def _trade_rows(resource: Any) -> list[dict[str, Any]]:
    items = resource.Table("dora_trade_log_test").scan()["Items"]
    assert isinstance(items, list)
    return items


def test_trade_row_has_the_dashboard_fields(store: Store, resource: Any) -> None:
    assert store.record_fills([(_fill("f-1", side=Side.ASK), -1_234)]) == 1
    (row,) = _trade_rows(resource)
    assert row == {
        "date": "2026-01-01", "timestamp#order_id": "2026-01-01T00:00:00.123Z#o-1#f-1",
        "timestamp": "2026-01-01T00:00:00.123Z", "market_id": "KXA", "side": "no",
        "type": "ask", "price": Decimal("0.56"), "size": Decimal("2.5"),
        "fill_price": Decimal("0.56"), "fill_size": Decimal("2.5"), "status": "filled",
        "pnl_realized": Decimal("-0.001234"), "fees": Decimal("0.0175"), "order_id": "o-1",
        "fill_id": "f-1", "fill_timestamp": "2026-01-01T00:00:00.123Z", "is_taker": False,
    }
    assert not any(isinstance(v, float) for v in walk(row))


def test_the_same_fill_twice_is_one_row(store: Store, resource: Any) -> None:
    assert store.record_fills([(_fill("f-1"), 0), (_fill("f-1"), 0)]) == 1
    assert store.record_fills([(_fill("f-1"), 0)]) == 0
    assert len(_trade_rows(resource)) == 1


def test_two_fills_of_one_order_at_the_same_instant_are_two_rows(
    store: Store, resource: Any
) -> None:
    assert store.record_fills([(_fill("f-1"), 0), (_fill("f-2"), 0)]) == 2
    assert sorted(r["fill_id"] for r in _trade_rows(resource)) == ["f-1", "f-2"]


def test_fill_rows_are_dated_by_the_fill_not_by_now(store: Store, resource: Any) -> None:
    store.record_fills([(_fill("late", ts_ms=T0 - 1), 0)])
    assert _trade_rows(resource)[0]["date"] == "2025-12-31"


def test_decision_records_expire_and_never_collide(store: Store, resource: Any) -> None:
    store.put_decision_records([{"market_id": "KXA", "num_targets": 2},
                                {"market_id": "KXB", "num_targets": 0}])
    store.put_decision_record({"market_id": "KXA", "num_targets": 1})

    items = resource.Table("dora_decision_log_test").query(
        KeyConditionExpression=Key("date").eq("2026-01-01"))["Items"]
    assert len(items) == 3
    assert len({i["timestamp"] for i in items}) == 3
    assert sorted(i["timestamp"] for i in items) == [  # naive UTC ISO, as the dashboard reads
        "2026-01-01T00:00:00.000000", "2026-01-01T00:00:00.000001", "2026-01-01T00:00:00.000002"]
    assert all(i["expires_at"] == T0 // 1000 + THIRTY_DAYS_S for i in items)
    assert all(i["decided_at"] == "2026-01-01T00:00:00.000Z" for i in items)


def test_decision_records_are_queryable_by_market(store: Store, resource: Any) -> None:
    store.put_decision_records([{"market_id": "KXA"}, {"market_id": "KXB"}])
    by_market = resource.Table("dora_decision_log_test").query(
        IndexName="market_id-timestamp-index",
        KeyConditionExpression=Key("market_id").eq("KXB"))["Items"]
    assert [i["market_id"] for i in by_market] == ["KXB"]


def test_execution_events_expire_and_keep_order_within_a_decision(
    make_store: Any, resource: Any, clock: FakeClock
) -> None:
    store = make_store(log_ttl_days=7)
    store.create_tables()
    events = [{"bot_run_id": "run", "decision_id": "run:KXA:1", "event_type": "ORDER_RESULT",
               "status": "ACCEPTED", "price": "0.5600"} for _ in range(3)]
    events.append({"bot_run_id": "run", "decision_id": "", "event_type": "ORDER_CANCEL"})
    store.put_execution_events(events)

    items = resource.Table("dora_execution_log_test").query(
        KeyConditionExpression=Key("bot_run_id").eq("run"))["Items"]
    assert len(items) == 4
    assert all(i["expires_at"] == T0 // 1000 + 7 * 86_400 for i in items)
    assert all(i["event_ts"] == "2026-01-01T00:00:00.000Z" and i["env"] == "test"
               for i in items)
    by_decision = resource.Table("dora_execution_log_test").query(
        IndexName="decision_id_event_ts",
        KeyConditionExpression=Key("decision_id").eq("run:KXA:1"))["Items"]
    assert len(by_decision) == 3


def test_execution_event_without_a_run_id_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="bot_run_id"):
        store.put_execution_events([{"decision_id": "d"}])


@pytest.mark.parametrize("bad", [0.5, {"nested": [1.25]}, float("nan")])
def test_a_float_in_a_record_is_refused(store: Store, bad: Any) -> None:
    with pytest.raises(TypeError, match=r"stored exactly|finite"):
        store.put_decision_record({"market_id": "KXA", "fair_value": bad})


def test_terminating_fractions_are_stored_exactly(store: Store, resource: Any) -> None:
    store.put_decision_record({"market_id": "KXA", "skew": Fraction(-1, 8),
                               "calc": {"factor": Fraction(3, 1)}})
    (item,) = resource.Table("dora_decision_log_test").scan()["Items"]
    assert (item["skew"], item["calc"]["factor"]) == (Decimal("-0.125"), Decimal("3"))


def test_a_fraction_without_an_exact_decimal_is_refused(store: Store) -> None:
    with pytest.raises(TypeError, match="exact decimal"):
        store.put_decision_record({"market_id": "KXA", "skew": Fraction(1, 3)})
