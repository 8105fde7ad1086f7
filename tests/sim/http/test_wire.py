from __future__ import annotations

import pytest

from dora.core.models import (
    LINEAR_CENT,
    MarketStatus,
    OrderStatus,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from dora.sim.engine.records import (
    SimBalance,
    SimFill,
    SimGroup,
    SimMarket,
    SimOrder,
    SimPosition,
    SimSettlement,
    SimTrade,
)
from dora.sim.http.wire import (
    FillSummary,
    balance_json,
    batch_cancel_error,
    batch_create_error,
    create_response,
    event_positions_json,
    fill_json,
    group_detail_json,
    group_summary_json,
    market_position_json,
    money,
    order_json,
    rfc3339,
    settlement_json,
)
from dora.sim.http.wire_market import MarketActivity, market_json, orderbook_fp_json, trade_json
from tests.sim.http.schemas import check_shape

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def make_order(**overrides: object) -> SimOrder:
    values: dict[str, object] = dict(
        order_id="o1", user_id="u1", client_order_id="c1", ticker="M", side=Side.ASK,
        price=4200, initial=1000, filled=300, remaining=700, status=OrderStatus.RESTING,
        time_in_force=TimeInForce.GTC, self_trade_prevention=SelfTradePrevention.MAKER,
        post_only=True, reduce_only=False, cancel_order_on_pause=True, expiration_s=None,
        order_group_id="", created_ms=T0, updated_ms=T0 + 1500, taker_fill_cost=1_740_000,
        maker_fill_cost=0, taker_fees=50_000, maker_fees=0,
    )
    values.update(overrides)
    return SimOrder(**values)  # type: ignore[arg-type]


def test_rfc3339_shows_milliseconds_only_when_present() -> None:
    assert rfc3339(T0) == "2026-01-01T00:00:00Z"
    assert rfc3339(T0 + 1234) == "2026-01-01T00:00:01.234Z"


@pytest.mark.parametrize(
    ("micros", "text"),
    [(0, "0.0000"), (175_000, "0.1750"), (-1_234_500, "-1.2345"), (5_001, "0.005001")],
)
def test_money_is_exact_with_four_or_six_decimals(micros: int, text: str) -> None:
    assert money(micros) == text


def test_order_json_has_every_required_field_in_kalshi_formats() -> None:
    body = order_json(make_order(expiration_s=1_767_300_000))
    check_shape(body, "Order")
    assert body["book_side"] == "ask" and body["outcome_side"] == "no"
    assert body["yes_price_dollars"] == "0.4200" and body["no_price_dollars"] == "0.5800"
    assert body["remaining_count_fp"] == "7.00" and body["fill_count_fp"] == "3.00"
    assert body["taker_fees_dollars"] == "0.0500"
    assert body["expiration_time"] == rfc3339(1_767_300_000_000)


def test_create_response_reports_yes_frame_average_fill_price_and_fee_per_contract() -> None:
    fills = [
        SimFill("f1", "t1", "o1", "u1", "M", Side.BID, 4000, 100, True, 20_000, T0),
        SimFill("f2", "t2", "o1", "u1", "M", Side.BID, 4100, 300, True, 60_000, T0),
    ]
    order = make_order(side=Side.BID, filled=400, remaining=600)
    body = create_response(order, FillSummary.of(fills))
    check_shape(body, "CreateOrderV2Response")
    assert body["average_fill_price"] == "0.4075"  # (0.40*1 + 0.41*3) / 4
    assert body["average_fee_paid"] == "0.0200"  # $0.08 over 4 contracts
    assert body["ts_ms"] == T0 + 1500


def test_create_response_without_fills_omits_averages() -> None:
    body = create_response(make_order(filled=0, remaining=1000), FillSummary())
    assert "average_fill_price" not in body and body["fill_count"] == "0.00"


def test_batch_error_items_carry_an_error_envelope() -> None:
    item = batch_create_error("c9", "invalid_price", "bad price")
    assert item["error"] == {"code": "invalid_price", "message": "bad price", "service": "exchange"}
    cancel = batch_cancel_error("o9", "not_found", "no such order", T0)
    check_shape(cancel, "BatchCancelOrdersV2ResponseOrdersInner")
    assert cancel["reduced_by"] == "0.00"


def test_fill_json_shape_and_both_price_frames() -> None:
    body = fill_json(SimFill("f1", "t1", "o1", "u1", "M", Side.ASK, 6100, 250, False, 0, T0 + 2500))
    check_shape(body, "Fill")
    assert (body["yes_price_dollars"], body["no_price_dollars"]) == ("0.6100", "0.3900")
    assert body["ts"] == (T0 + 2500) // 1000 and body["count_fp"] == "2.50"


def test_positions_and_event_aggregation() -> None:
    positions = [
        SimPosition("A", -500, 2_000_000, 100_000, 10_000, 3_000_000, T0),
        SimPosition("B", 300, 1_000_000, -50_000, 5_000, 1_000_000, T0),
    ]
    check_shape(market_position_json(positions[0]), "MarketPosition")
    assert market_position_json(positions[0])["position_fp"] == "-5.00"
    events = event_positions_json(positions, {"A": "E", "B": "E"})
    assert len(events) == 1
    check_shape(events[0], "EventPosition")
    assert events[0]["total_cost_shares_fp"] == "8.00"
    assert events[0]["realized_pnl_dollars"] == "0.0500"


def test_balance_in_cents_floored_and_dollars_exact() -> None:
    body = balance_json(SimBalance(12_345_678, 20_000_009, T0 + 999))
    check_shape(body, "GetBalanceResponse")
    assert (body["balance"], body["balance_dollars"]) == (1234, "12.345678")
    assert body["updated_ts"] == T0 // 1000


def test_settlement_json_shape() -> None:
    body = settlement_json(SimSettlement("A", "E", "yes", 500, 0, 2_000_000, 0, 5_000_000, T0))
    check_shape(body, "Settlement")
    assert (body["revenue"], body["value"]) == (500, 100)


def test_group_shapes() -> None:
    group = SimGroup("g1", 1000, True, ("o1", "o2"))
    summary = group_summary_json(group)
    check_shape(summary, "OrderGroup")
    assert summary["contracts_limit_fp"] == "10.00"
    detail = group_detail_json(group)
    check_shape(detail, "GetOrderGroupResponse")
    assert detail["orders"] == ["o1", "o2"]


def make_market(**overrides: object) -> SimMarket:
    values: dict[str, object] = dict(
        ticker="M", event_ticker="E", status=MarketStatus.ACTIVE, open_ms=T0,
        close_ms=T0 + 86_400_000,
        price_level_structure="linear_cent", price_ranges=LINEAR_CENT, fractional=False,
        maker_fees=False, result="", last_price=4500, volume=12_300, best_bid=4400,
        best_bid_size=500, best_ask=None, best_ask_size=0, created_ms=T0, updated_ms=T0,
        settled_ms=None,
    )
    values.update(overrides)
    return SimMarket(**values)  # type: ignore[arg-type]


def test_market_json_shape_and_empty_ask_side() -> None:
    body = market_json(make_market(), MarketActivity(volume_24h=100, previous_price=None))
    check_shape(body, "Market")
    assert body["yes_bid_dollars"] == "0.4400" and body["yes_ask_dollars"] == "1.0000"
    assert body["no_bid_dollars"] == "0.0000" and body["no_ask_dollars"] == "0.5600"
    assert body["price_ranges"] == [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
    assert body["volume_fp"] == "123.00" and body["volume_24h_fp"] == "1.00"
    check_shape(body["price_ranges"][0], "PriceRange")


def test_trade_json_shape() -> None:
    body = trade_json(SimTrade("t1", "M", 3700, 100, Side.ASK, T0))
    check_shape(body, "Trade")
    assert body["taker_book_side"] == "ask" and body["taker_outcome_side"] == "no"


def test_orderbook_is_bids_only_ascending_with_asks_as_no_bids() -> None:
    bids = [(4400, 100), (4300, 200)]  # best first
    asks = [(4600, 300), (4800, 50)]  # best first
    book = orderbook_fp_json(bids, asks)
    assert book["yes_dollars"] == [["0.4300", "2.00"], ["0.4400", "1.00"]]
    assert book["no_dollars"] == [["0.5200", "0.50"], ["0.5400", "3.00"]]  # best NO bid last


def test_orderbook_depth_keeps_the_best_levels() -> None:
    book = orderbook_fp_json([(4400, 100), (4300, 200)], [(4600, 300), (4800, 50)], depth=1)
    assert book == {"yes_dollars": [["0.4400", "1.00"]], "no_dollars": [["0.5400", "3.00"]]}
