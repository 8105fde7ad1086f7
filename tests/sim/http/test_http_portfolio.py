"""Authenticated reads over HTTP: orders, queue positions, fills, positions, balance,
settlements, and cursor pagination."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dora.runtime.clock import FakeClock
from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, add_trader, assert_error, control
from tests.sim.http.schemas import check_shape


@pytest.fixture
def quiet(sim_factory: Callable[..., RunningSim]) -> RunningSim:
    return sim_factory(flow=False, tier="prestige")


def traded(sim: RunningSim, tmp_path: Path) -> tuple[Api, str]:
    """dora buys 3 @ 0.40 from another trader and rests a bid; returns dora's API and order id."""
    seller = add_trader(sim, tmp_path)
    seller.create(side="ask", price="0.40", count="3")
    api = Api(sim)
    order_id = api.create(side="bid", price="0.40", count="5", client_order_id="buy-1")["order_id"]
    return api, order_id


def test_orders_list_and_get_have_the_order_shape(quiet: RunningSim, tmp_path: Path) -> None:
    api, order_id = traded(quiet, tmp_path)
    body = api.get("/portfolio/orders").json()
    check_shape(body, "GetOrdersResponse")
    assert [o["order_id"] for o in body["orders"]] == [order_id] and body["cursor"] == ""
    single = api.get(f"/portfolio/orders/{order_id}").json()
    check_shape(single, "GetOrderResponse")
    order = single["order"]
    check_shape(order, "Order")
    assert (order["status"], order["fill_count_fp"], order["remaining_count_fp"]) == (
        "resting", "3.00", "2.00")
    assert order["taker_fill_cost_dollars"] == "1.2000" and order["user_id"] == "dora"
    assert_error(api.get("/portfolio/orders/nope"), 404, "not_found")


def test_orders_filters(quiet: RunningSim) -> None:
    api = Api(quiet)
    first = api.create(ticker="SIM-MKT-00")["order_id"]
    second = api.create(ticker="SIM-MKT-01", price="0.06")["order_id"]
    api.delete(f"/portfolio/events/orders/{first}")

    def ids(**params: str) -> list[str]:
        return [o["order_id"] for o in api.get("/portfolio/orders", params=params).json()["orders"]]

    assert ids(status="resting") == [second]
    assert ids(status="canceled") == [first]
    assert ids(ticker="SIM-MKT-00") == [first]
    assert sorted(ids(event_ticker="SIM-EVT")) == sorted([first, second])
    assert ids(event_ticker="OTHER-EVT") == []
    assert_error(api.get("/portfolio/orders", params={"status": "open"}), 400,
                 "invalid_parameters")


def test_min_ts_and_max_ts_are_unix_seconds(sim_factory: Callable[..., RunningSim]) -> None:
    clock = FakeClock(start_ms=1_767_225_600_500)
    sim = sim_factory(clock=clock, flow=False, tick_ms=0)
    api = Api(sim)
    early = api.create()["order_id"]
    clock.advance_ms(10_000)
    late = api.create(price="0.06")["order_id"]
    second = clock.now_ms() // 1000

    def ids(**params: int) -> list[str]:
        return [o["order_id"] for o in api.get("/portfolio/orders", params=params).json()["orders"]]

    assert ids(min_ts=second) == [late]
    assert ids(max_ts=second - 1) == [early]
    assert ids(min_ts=second, max_ts=second) == [late]


def test_cursor_pagination_walks_every_order_once(quiet: RunningSim) -> None:
    api = Api(quiet)
    created = [api.create(price=f"0.0{i}")["order_id"] for i in range(1, 8)]
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = api.get("/portfolio/orders", params=params).json()
        seen.extend(o["order_id"] for o in body["orders"])
        pages += 1
        cursor = body["cursor"]
        if not cursor:
            break
        api.create(price="0.09")  # newer orders must not shift later pages
    assert pages == 3
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    assert_error(api.get("/portfolio/orders", params={"limit": "1001"}), 400,
                 "invalid_parameters")
    assert_error(api.get("/portfolio/orders", params={"cursor": "garbage!"}), 400,
                 "invalid_parameters")


def test_queue_positions(quiet: RunningSim, tmp_path: Path) -> None:
    other = add_trader(quiet, tmp_path)
    other.create(price="0.05", count="7")
    api = Api(quiet)
    order_id = api.create(price="0.05", count="2")["order_id"]
    body = api.get("/portfolio/orders/queue_positions",
                   params={"market_tickers": "SIM-MKT-00,SIM-MKT-01"}).json()
    check_shape(body, "GetOrderQueuePositionsResponse")
    assert len(body["queue_positions"]) == 1
    check_shape(body["queue_positions"][0], "OrderQueuePosition")
    assert body["queue_positions"][0]["queue_position_fp"] == "7.00"
    single = api.get(f"/portfolio/orders/{order_id}/queue_position").json()
    assert single == {"queue_position_fp": "7.00"}
    assert_error(api.get("/portfolio/orders/queue_positions"), 400, "invalid_parameters")


def test_fills_shape_and_filters(quiet: RunningSim, tmp_path: Path) -> None:
    api, order_id = traded(quiet, tmp_path)
    body = api.get("/portfolio/fills").json()
    check_shape(body, "GetFillsResponse")
    (fill,) = body["fills"]
    check_shape(fill, "Fill")
    assert (fill["order_id"], fill["count_fp"], fill["yes_price_dollars"]) == (
        order_id, "3.00", "0.4000")
    assert fill["is_taker"] is True and fill["book_side"] == "bid"
    assert api.get("/portfolio/fills", params={"order_id": "other"}).json()["fills"] == []
    assert api.get("/portfolio/fills", params={"ticker": "SIM-MKT-01"}).json()["fills"] == []


def test_positions_and_balance(quiet: RunningSim, tmp_path: Path) -> None:
    api, _ = traded(quiet, tmp_path)
    body = api.get("/portfolio/positions").json()
    check_shape(body, "GetPositionsResponse")
    (position,) = body["market_positions"]
    check_shape(position, "MarketPosition")
    assert (position["ticker"], position["position_fp"]) == ("SIM-MKT-00", "3.00")
    (event,) = body["event_positions"]
    check_shape(event, "EventPosition")
    assert event["event_ticker"] == "SIM-EVT"
    assert_error(api.get("/portfolio/positions", params={"settlement_status": "settled"}), 400,
                 "invalid_parameters")
    balance = api.get("/portfolio/balance").json()
    check_shape(balance, "GetBalanceResponse")
    assert isinstance(balance["balance"], int) and balance["balance"] < 100_000_000


def test_settlements_after_the_market_settles(quiet: RunningSim, tmp_path: Path) -> None:
    api, _ = traded(quiet, tmp_path)
    assert control(quiet, "POST", "/markets/SIM-MKT-00/close").status_code == 200
    settled = control(quiet, "POST", "/markets/SIM-MKT-00/settle", {"result": "yes"})
    assert settled.status_code == 200
    body = api.get("/portfolio/settlements").json()
    check_shape(body, "GetSettlementsResponse")
    (settlement,) = body["settlements"]
    check_shape(settlement, "Settlement")
    assert (settlement["market_result"], settlement["yes_count_fp"], settlement["revenue"]) == (
        "yes", "3.00", 300)
