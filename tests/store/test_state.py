from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dora.core.errors import StaleWriteError
from dora.core.ledger import CashView
from dora.core.models import Balance, OrderStatus, PositionState, RestingOrder, RiskState, Side
from dora.runtime.clock import FakeClock
from dora.store.store import ApiErrorRecord, Store
from tests.store.conftest import walk

LONG = PositionState("KXLONG", net=1_000, open_cost=5_530_000, realized_pnl=-12_345,
                     fees_paid=7_000)
SHORT = PositionState("KXSHORT", net=-250, open_cost=1_025_000, realized_pnl=1_000_001,
                      fees_paid=1, settled=False)
FLAT = PositionState("KXFLAT", net=0, open_cost=0, realized_pnl=3, fees_paid=3, settled=True)
RISK = RiskState(daily_pnl=-1_234_567, day="2026-01-01", trading_halted=True,
                 halt_reason="loss limit", last_fill_ts_ms=1_767_225_600_123)


def _state_item(resource: Any, key: str) -> dict[str, Any]:
    item = resource.Table("dora_state_test").get_item(Key={"key": key})["Item"]
    assert isinstance(item, dict)
    return item


def test_load_state_defaults_when_nothing_is_stored(store: Store) -> None:
    state = store.load_state()
    assert state.positions == {}
    assert state.risk == RiskState()
    assert state.recent_fills == {}


def test_snapshot_round_trips_exactly(store: Store, make_store: Any) -> None:
    positions = {p.ticker: p for p in (LONG, SHORT, FLAT)}
    store.save_snapshot(positions, RISK, {"fill-a": 1_767_225_600_123, "fill-b": 5})

    restored = make_store().load_state()

    assert restored.positions == {p.ticker: p for p in (LONG, SHORT)}  # flat ones are left out
    assert restored.risk == RISK
    assert restored.recent_fills == {"fill-a": 1_767_225_600_123, "fill-b": 5}


def test_positions_item_has_the_dashboard_fields(store: Store, resource: Any) -> None:
    store.save_positions({p.ticker: p for p in (LONG, SHORT, FLAT)})
    item = _state_item(resource, "positions")
    assert item["positions"]["KXLONG"] == {
        "net_yes_qty": Decimal("10"), "avg_buy_price": Decimal("0.553"),
        "avg_sell_price": Decimal("0"), "realized_pnl": Decimal("-0.012345"),
        "open_cost_micros": Decimal("5530000"), "fees_paid": Decimal("0.007"), "settled": False,
    }
    short = item["positions"]["KXSHORT"]
    assert (short["net_yes_qty"], short["avg_buy_price"], short["avg_sell_price"]) == (
        Decimal("-2.5"), Decimal("0"), Decimal("0.41"))
    assert item["version"] == 1 and "last_updated" in item


def test_risk_state_item_has_the_dashboard_fields(store: Store, resource: Any) -> None:
    store.save_risk_state(RISK)
    item = _state_item(resource, "risk_state")
    assert item["daily_pnl"] == Decimal("-1.234567")
    assert item["trading_halted"] is True
    assert item["halt_reason"] == "loss limit"
    assert item["last_fill_timestamp"] == "2026-01-01T00:00:00.123Z"
    assert item["last_updated"] == "2026-01-01T00:00:00.000Z"
    assert item["day"] == "2026-01-01"


def test_open_orders_item_has_the_dashboard_fields(store: Store, resource: Any) -> None:
    bid = RestingOrder("o-1", "dora-1", "KXA", Side.BID, 5_600, remaining=500, filled=100,
                       created_ms=1_767_225_600_000)
    ask = RestingOrder("o-2", "dora-2", "KXB", Side.ASK, 6_150, remaining=1_000,
                       status=OrderStatus.RESTING)
    store.save_open_orders([bid, ask], {"o-1": "run:KXA:3", "KXB": "run:KXB:3"})
    orders = _state_item(resource, "open_orders")["orders"]
    assert orders["o-1"] == {
        "market_id": "KXA", "side": "yes", "type": "bid", "price": Decimal("0.56"),
        "size": Decimal("5"), "filled_size": Decimal("1"), "decision_id": "run:KXA:3",
        "client_order_id": "dora-1", "status": "resting",
        "created_at": "2026-01-01T00:00:00.000Z", "tif": "good_till_canceled",
        "order_group_id": "",
    }
    assert (orders["o-2"]["side"], orders["o-2"]["price"], orders["o-2"]["decision_id"]) == (
        "no", Decimal("0.615"), "run:KXB:3")


def test_balance_item_has_balance_payout_total(store: Store, resource: Any) -> None:
    store.save_balance(Balance(balance=1_000_000_123, portfolio_value=25_500_000))
    item = _state_item(resource, "balance")
    assert (item["balance"], item["payout"], item["total"]) == (
        Decimal("1000.000123"), Decimal("25.5"), Decimal("1025.500123"))


def test_balance_item_carries_promised_and_free_cash_beside_the_predecessor_fields(
    store: Store, resource: Any
) -> None:
    cash = CashView(balance=10_000_000, as_of_ms=1_767_225_600_000, promised=4_000_000,
                    released=1_500_000)
    store.save_balance(Balance(10_000_000, 2_000_000, 1_767_225_600_000), cash)
    item = _state_item(resource, "balance")
    assert (item["balance"], item["payout"], item["total"]) == (
        Decimal("10"), Decimal("2"), Decimal("12"))
    assert (item["promised"], item["released"], item["free"]) == (
        Decimal("4"), Decimal("1.5"), Decimal("7.5"))
    assert item["exchange_updated_at"].startswith("2026-01-01T00:00:00")


def test_api_errors_item_shape(store: Store, resource: Any) -> None:
    store.save_api_errors({"KXA": ApiErrorRecord(3, 1_767_225_600_000, "rate_limited", 429,
                                                 "too many")})
    errors = _state_item(resource, "api_errors")["errors"]
    assert errors["KXA"] == {"count": 3, "last_error": "2026-01-01T00:00:00.000Z",
                             "last_error_code": "rate_limited", "last_status_code": 429,
                             "last_error_msg": "too many"}


def test_no_float_is_ever_stored(store: Store, resource: Any) -> None:
    store.load_state()
    store.save_snapshot({p.ticker: p for p in (LONG, SHORT, FLAT)}, RISK, {"f": 1})
    store.save_open_orders([RestingOrder("o", "c", "KXA", Side.BID, 5_555, 333)], {})
    store.save_balance(Balance(7, 9))
    items = resource.Table("dora_state_test").scan()["Items"]
    assert len(items) == 5
    leaves = list(walk(items))
    assert not any(isinstance(v, float) for v in leaves)
    assert any(isinstance(v, Decimal) for v in leaves)


def test_versions_advance_with_each_write(store: Store) -> None:
    store.load_state()
    store.save_risk_state(RISK)
    store.save_risk_state(RISK)
    assert store.versions["risk_state"] == 2
    assert store.load_state().versions["risk_state"] == 2


def test_second_writer_with_a_stale_version_is_refused(make_store: Any, clock: FakeClock) -> None:
    bot, operator = make_store(), make_store()
    bot.create_tables()
    bot.load_state()
    operator.load_state()
    operator.save_risk_state(RiskState(trading_halted=True, halt_reason="operator"))
    clock.advance_ms(1)

    with pytest.raises(StaleWriteError):
        bot.save_risk_state(RiskState(daily_pnl=-5))

    assert make_store().load_state().risk.halt_reason == "operator"
    bot.load_state()
    bot.save_risk_state(RiskState(daily_pnl=-5, trading_halted=True, halt_reason="operator"))


def test_stale_snapshot_writes_nothing(make_store: Any, clock: FakeClock) -> None:
    bot, operator = make_store(), make_store()
    bot.create_tables()
    bot.load_state()
    operator.load_state()
    operator.save_risk_state(RiskState(trading_halted=True, halt_reason="operator"))
    clock.advance_ms(1)

    with pytest.raises(StaleWriteError):
        bot.save_snapshot({"KXLONG": LONG}, RiskState(), {"f": 1})

    after = make_store().load_state()
    assert after.positions == {} and after.recent_fills == {}


def test_first_write_over_an_item_this_store_never_read_is_refused(make_store: Any) -> None:
    first, second = make_store(), make_store()
    first.create_tables()
    first.save_balance(Balance(1, 2))
    with pytest.raises(StaleWriteError):
        second.save_balance(Balance(3, 4))


def test_repeating_a_write_that_already_landed_is_not_a_conflict(make_store: Any) -> None:
    """The lost-ack case: the same write arrives again with the version it was based on."""
    first, retry = make_store(), make_store()
    first.create_tables()
    first.load_state()
    retry.load_state()
    first.save_snapshot({"KXLONG": LONG}, RISK, {"f": 1})

    retry.save_snapshot({"KXLONG": LONG}, RISK, {"f": 1})

    assert retry.versions["positions"] == 1
    retry.save_positions({})
    assert make_store().load_state().positions == {}


def test_items_written_by_the_predecessor_are_read_and_replaced(
    store: Store, resource: Any
) -> None:
    table = resource.Table("dora_state_test")
    table.put_item(Item={"key": "positions", "positions": {"KXOLD": {
        "net_yes_qty": Decimal("4"), "avg_buy_price": Decimal("0.3300000000000001"),
        "avg_sell_price": Decimal("0"), "realized_pnl": Decimal("-0.0175000000001")}}})
    table.put_item(Item={"key": "risk_state", "daily_pnl": Decimal("-2.5"),
                         "trading_halted": False, "last_fill_timestamp": "2025-12-31T23:59:59.5"})

    state = store.load_state()

    assert state.positions["KXOLD"] == PositionState("KXOLD", net=400, open_cost=1_320_000,
                                                     realized_pnl=-17_500)
    assert state.risk.daily_pnl == -2_500_000
    assert state.risk.last_fill_ts_ms == 1_767_225_599_500
    store.save_snapshot(state.positions, state.risk, {})
    assert store.versions["positions"] == 1
