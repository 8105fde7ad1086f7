"""Public market data over HTTP (no authentication needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, add_trader, assert_error, control
from tests.sim.http.schemas import RFC3339, check_shape


@pytest.fixture
def quiet(sim_factory: Callable[..., RunningSim]) -> RunningSim:
    return sim_factory(flow=False, tier="prestige")


def test_markets_are_seeded_with_mixed_tick_structures(quiet: RunningSim) -> None:
    body = Api(quiet).get("/markets", signed=False).json()
    check_shape(body, "GetMarketsResponse")
    tickers = [m["ticker"] for m in body["markets"]]
    assert tickers == [f"SIM-MKT-0{i}" for i in range(5)] and body["cursor"] == ""
    for market in body["markets"]:
        check_shape(market, "Market")
        assert market["event_ticker"] == "SIM-EVT" and market["status"] == "active"
    structures = {m["price_level_structure"] for m in body["markets"]}
    assert structures == {"linear_cent", "tapered_deci_cent"}


def test_markets_filters_and_pagination(quiet: RunningSim) -> None:
    api = Api(quiet)
    picked = api.get("/markets", params={"tickers": "SIM-MKT-01,SIM-MKT-03"}, signed=False)
    assert [m["ticker"] for m in picked.json()["markets"]] == ["SIM-MKT-01", "SIM-MKT-03"]
    control(quiet, "POST", "/markets/SIM-MKT-02/close")
    closed = api.get("/markets", params={"status": "closed"}, signed=False).json()["markets"]
    assert [m["ticker"] for m in closed] == ["SIM-MKT-02"]
    opened = api.get("/markets", params={"status": "open"}, signed=False).json()["markets"]
    assert "SIM-MKT-02" not in [m["ticker"] for m in opened] and len(opened) == 4
    assert_error(api.get("/markets", params={"status": "active"}, signed=False), 400,
                 "invalid_parameters")
    page = api.get("/markets", params={"limit": "2"}, signed=False).json()
    rest = api.get("/markets", params={"limit": "10", "cursor": page["cursor"]}, signed=False)
    assert len(page["markets"]) == 2 and len(rest.json()["markets"]) == 3
    assert rest.json()["cursor"] == ""


def test_single_market_and_unknown_market(quiet: RunningSim) -> None:
    api = Api(quiet)
    body = api.get("/markets/SIM-MKT-01", signed=False).json()
    check_shape(body, "GetMarketResponse")
    check_shape(body["market"], "Market")
    assert_error(api.get("/markets/NOPE", signed=False), 404, "market_not_found")


def test_orderbook_is_bids_only_ascending_with_no_side(quiet: RunningSim, tmp_path: Path) -> None:
    trader = add_trader(quiet, tmp_path)
    trader.create(side="bid", price="0.30", count="2")
    trader.create(side="bid", price="0.31", count="1")
    trader.create(side="ask", price="0.35", count="4")
    trader.create(side="ask", price="0.37", count="5")
    api = Api(quiet)
    body = api.get("/markets/SIM-MKT-00/orderbook", signed=False).json()
    check_shape(body, "GetMarketOrderbookResponse")
    assert body["orderbook_fp"] == {
        "yes_dollars": [["0.3000", "2.00"], ["0.3100", "1.00"]],
        "no_dollars": [["0.6300", "5.00"], ["0.6500", "4.00"]],
    }
    top = api.get("/markets/SIM-MKT-00/orderbook", params={"depth": "1"}, signed=False).json()
    assert top["orderbook_fp"] == {"yes_dollars": [["0.3100", "1.00"]],
                                   "no_dollars": [["0.6500", "4.00"]]}
    assert_error(api.get("/markets/SIM-MKT-00/orderbook", params={"depth": "101"}, signed=False),
                 400, "invalid_parameters")


def test_multi_orderbooks(quiet: RunningSim) -> None:
    api = Api(quiet)
    response = api.get("/markets/orderbooks",
                       params=[("tickers", "SIM-MKT-00"), ("tickers", "SIM-MKT-01")], signed=False)
    body = response.json()
    check_shape(body, "GetMarketOrderbooksResponse")
    assert [b["ticker"] for b in body["orderbooks"]] == ["SIM-MKT-00", "SIM-MKT-01"]
    for book in body["orderbooks"]:
        check_shape(book, "MarketOrderbookFp")
        check_shape(book["orderbook_fp"], "OrderbookCountFp")
    assert_error(api.get("/markets/orderbooks", signed=False), 400, "invalid_parameters")
    too_many = [("tickers", f"T{i}") for i in range(101)]
    assert_error(api.get("/markets/orderbooks", params=too_many, signed=False), 400,
                 "invalid_parameters")


def test_public_trades_include_other_traders(quiet: RunningSim, tmp_path: Path) -> None:
    seller, buyer = add_trader(quiet, tmp_path), add_trader(quiet, tmp_path)
    seller.create(side="ask", price="0.44", count="2")
    buyer.create(side="bid", price="0.44", count="2", time_in_force="immediate_or_cancel")
    body = Api(quiet).get("/markets/trades", params={"ticker": "SIM-MKT-00"}, signed=False).json()
    check_shape(body, "GetTradesResponse")
    (trade,) = body["trades"]
    check_shape(trade, "Trade")
    assert (trade["yes_price_dollars"], trade["count_fp"], trade["taker_book_side"]) == (
        "0.4400", "2.00", "bid")
    assert_error(Api(quiet).get("/markets/trades", params={"ticker": "NOPE"}, signed=False),
                 404, "market_not_found")


def test_outside_flow_trades_reach_the_tape(sim: RunningSim) -> None:
    for _ in range(40):
        control(sim, "POST", "/advance")
        trades = Api(sim).get("/markets/trades", signed=False).json()["trades"]
        if trades:
            break
        sim.clock.sleep(0.1)
    assert trades, "the seeded outside flow never traded"


def test_exchange_status_and_user_data_timestamp(quiet: RunningSim) -> None:
    api = Api(quiet)
    status = api.get("/exchange/status", signed=False).json()
    check_shape(status, "ExchangeStatus")
    assert status["exchange_active"] is True and status["trading_active"] is True
    stamp = api.get("/exchange/user_data_timestamp", signed=False).json()
    check_shape(stamp, "GetUserDataTimestampResponse")
    assert RFC3339.match(stamp["as_of_time"])
