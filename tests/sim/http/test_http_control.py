"""The /_sim control surface."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dora.runtime.clock import FakeClock
from dora.sim.http.control import ControlSurface
from dora.sim.http.wire import rfc3339
from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, assert_error, control, order_body
from tests.sim.http.schemas import check_shape


@pytest.fixture
def quiet(sim_factory: Callable[..., RunningSim]) -> RunningSim:
    return sim_factory(clock=FakeClock(), flow=False, tick_ms=0, tier="prestige")


def test_control_refuses_non_loopback_clients(quiet: RunningSim) -> None:
    surface = ControlSurface(quiet.context)
    refused = surface.handle("GET", "/_sim/counters", "", b"", "10.1.2.3")
    assert refused.status == 403
    assert surface.handle("GET", "/_sim/counters", "", b"", "127.0.0.1").status == 200


def test_add_market_then_trade_it(quiet: RunningSim) -> None:
    response = control(quiet, "POST", "/markets", {
        "ticker": "NEW-1", "event_ticker": "NEW", "price_level_structure": "tapered_deci_cent",
        "fair_value": "0.30", "fractional": True})
    assert response.status_code == 201
    check_shape(response.json()["market"], "Market")
    assert Api(quiet).create(ticker="NEW-1", price="0.053", count="1.25")["remaining_count"] == (
        "1.25")
    assert control(quiet, "POST", "/markets", {"ticker": "NEW-1"}).status_code == 409


def test_market_lifecycle_controls(quiet: RunningSim) -> None:
    api = Api(quiet)
    assert control(quiet, "POST", "/markets/SIM-MKT-01/pause").status_code == 200
    assert_error(api.post("/portfolio/events/orders", json=order_body(ticker="SIM-MKT-01")),
                 409, "trading_is_paused")
    assert control(quiet, "POST", "/markets/SIM-MKT-01/resume").status_code == 200
    api.create(ticker="SIM-MKT-01")
    assert control(quiet, "POST", "/markets/SIM-MKT-01/close").status_code == 200
    assert_error(api.post("/portfolio/events/orders", json=order_body(ticker="SIM-MKT-01")),
                 409, "market_closed")
    settle = "/markets/SIM-MKT-01/settle"
    assert control(quiet, "POST", settle, {"result": "maybe"}).status_code == 400
    assert control(quiet, "POST", settle, {"result": "no"}).status_code == 200
    market = api.get("/markets/SIM-MKT-01", signed=False).json()["market"]
    assert (market["status"], market["result"]) == ("finalized", "no")
    assert control(quiet, "POST", "/markets/NOPE/close").status_code == 404


def test_close_time_moves_and_the_market_closes_at_the_new_time(quiet: RunningSim) -> None:
    api = Api(quiet)
    clock = quiet.context.clock
    assert isinstance(clock, FakeClock)
    path = "/markets/SIM-MKT-02/close_time"
    moved = control(quiet, "POST", path, {"close_in_s": 90})
    assert moved.status_code == 200
    market = api.get("/markets/SIM-MKT-02", signed=False).json()["market"]
    assert market["close_time"] == rfc3339(moved.json()["close_ms"])
    api.create(ticker="SIM-MKT-02")
    clock.advance_ms(89_000)
    assert api.get("/markets/SIM-MKT-02", signed=False).json()["market"]["status"] == "active"
    clock.advance_ms(1_000)
    assert api.get("/markets/SIM-MKT-02", signed=False).json()["market"]["status"] == "closed"
    assert control(quiet, "POST", path, {"close_in_s": 90}).status_code == 409
    assert control(quiet, "POST", "/markets/SIM-MKT-03/close_time", {}).status_code == 400
    assert control(quiet, "POST", "/markets/SIM-MKT-03/close_time",
                   {"close_ms": clock.now_ms()}).status_code == 200
    assert quiet.engine.market("SIM-MKT-03").status.value == "closed"


def test_fair_value_moves_the_flow_anchor(quiet: RunningSim) -> None:
    path = "/markets/SIM-MKT-00/fair_value"
    assert control(quiet, "POST", path, {"fair_value": "0.61"}).json() == {}
    with quiet.lock:
        assert quiet.engine.fair_value("SIM-MKT-00") == 6100
    assert control(quiet, "POST", path, {"fair_value": "1.5"}).status_code == 400


def test_counters_report_requests_statuses_and_engine(quiet: RunningSim) -> None:
    api = Api(quiet)
    api.create()
    api.get("/portfolio/orders/unknown")
    counters = control(quiet, "GET", "/counters").json()
    assert counters["requests"]["POST /portfolio/events/orders"] == 1
    assert counters["requests"]["GET /portfolio/orders/{order_id}"] == 1
    assert counters["status"] == {"201": 1, "404": 1}
    assert counters["engine"]["orders_created"] >= 1
    control(quiet, "POST", "/counters/reset")
    assert control(quiet, "GET", "/counters").json()["requests"] == {}


def test_tier_switch_and_flow_control(quiet: RunningSim) -> None:
    assert control(quiet, "POST", "/tier", {"tier": "premier"}).json() == {"tier": "premier"}
    assert control(quiet, "POST", "/tier", {"tier": "platinum"}).status_code == 400
    answer = control(quiet, "POST", "/flow", {"ticker": "SIM-MKT-00", "enabled": True,
                                              "taker_rate_per_s": "1/2"})
    assert answer.status_code == 200
    assert control(quiet, "POST", "/knobs", {"flow": False}).json()["flow"] is False
    assert control(quiet, "POST", "/advance").status_code == 200


def test_unknown_control_path_is_404(quiet: RunningSim) -> None:
    assert control(quiet, "GET", "/nothing").status_code == 404
