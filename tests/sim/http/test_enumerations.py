"""Every enumerated field the local exchange serves holds one of the values Kalshi's schema allows
(docs/kalshi-notes.md#enumerations): a strict client rejects a whole answer otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, add_trader, assert_error, control

ALLOWED: dict[str, dict[str, frozenset[str]]] = {
    "Market": {
        "market_type": frozenset({"binary", "scalar"}),
        "status": frozenset({"initialized", "inactive", "active", "closed", "determined",
                             "disputed", "amended", "finalized"}),
        "result": frozenset({"yes", "no", "scalar", ""}),
        "settlement_bounds_type": frozenset({"default", "floor"}),
    },
    "Order": {
        "outcome_side": frozenset({"yes", "no"}),
        "book_side": frozenset({"bid", "ask"}),
        "status": frozenset({"resting", "canceled", "executed"}),
        "type": frozenset({"limit", "market"}),
        "self_trade_prevention_type": frozenset({"taker_at_cross", "maker"}),
    },
    "Fill": {"outcome_side": frozenset({"yes", "no"}), "book_side": frozenset({"bid", "ask"})},
    "Trade": {"taker_outcome_side": frozenset({"yes", "no"}),
              "taker_book_side": frozenset({"bid", "ask"})},
    "Settlement": {"market_result": frozenset({"yes", "no", "scalar"})},
}
EXTRA_STATUSES = ("initialized", "determined", "disputed", "amended")


def bad_values(kind: str, objects: list[dict[str, Any]]) -> list[str]:
    found = []
    for obj in objects:
        for name, allowed in ALLOWED[kind].items():
            if name in obj and obj[name] not in allowed:
                found.append(f"{kind}.{name}={obj[name]!r}")
    return found


@pytest.fixture
def world(sim_factory: Callable[..., RunningSim], tmp_path: Path) -> tuple[RunningSim, Api]:
    """Markets in every status the exchange can show; dora's orders resting, cancelled and
    executed; fills, trades and settlements of both results."""
    sim = sim_factory(flow=False, tier="prestige", markets=5)
    api, other = Api(sim), add_trader(sim, tmp_path)
    for status in EXTRA_STATUSES:
        body = {"ticker": f"ENUM-{status.upper()}", "status": status, "open_in_s": 3600}
        assert control(sim, "POST", "/markets", body).status_code == 201
    api.create(ticker="SIM-MKT-00", price="0.05")  # stays resting
    gone = api.create(ticker="SIM-MKT-00", price="0.06")["order_id"]
    api.delete(f"/portfolio/events/orders/{gone}")
    for ticker, result in (("SIM-MKT-01", "yes"), ("SIM-MKT-02", "no")):
        other.create(ticker=ticker, side="ask", price="0.40", count="2")
        api.create(ticker=ticker, side="bid", price="0.40", count="2")  # executed at once
        other.create(ticker=ticker, side="bid", price="0.30", count="1")
        api.create(ticker=ticker, side="ask", price="0.30", count="1")  # dora sells: an ask fill
        assert control(sim, "POST", f"/markets/{ticker}/settle", {"result": result}).ok
    assert control(sim, "POST", "/markets/SIM-MKT-03/pause").ok
    assert control(sim, "POST", "/markets/SIM-MKT-04/close").ok
    return sim, api


def test_every_enumerated_field_holds_an_allowed_value(world: tuple[RunningSim, Api]) -> None:
    _, api = world
    markets = api.get("/markets", params={"limit": "1000"}).json()["markets"]
    orders = api.get("/portfolio/orders").json()["orders"]
    fills = api.get("/portfolio/fills").json()["fills"]
    settlements = api.get("/portfolio/settlements").json()["settlements"]
    trades = [t for m in markets
              for t in api.get("/markets/trades", params={"ticker": m["ticker"]}).json()["trades"]]
    singles = [api.get(f"/markets/{m['ticker']}").json()["market"] for m in markets]
    assert {m["status"] for m in markets} == {
        "active", "inactive", "closed", "finalized", *EXTRA_STATUSES}
    assert {o["status"] for o in orders} == {"resting", "canceled", "executed"}
    assert {s["market_result"] for s in settlements} == {"yes", "no"}
    assert {f["book_side"] for f in fills} == {"bid", "ask"} and trades
    problems = (bad_values("Market", markets + singles) + bad_values("Order", orders)
                + bad_values("Fill", fills) + bad_values("Trade", trades)
                + bad_values("Settlement", settlements))
    assert problems == []


def test_the_check_catches_an_empty_enumerated_value() -> None:
    assert bad_values("Market", [{"settlement_bounds_type": ""}]) == [
        "Market.settlement_bounds_type=''"]


def test_results_outside_the_schema_are_refused(sim: RunningSim) -> None:
    assert_error(control(sim, "POST", "/markets/SIM-MKT-00/settle", {"result": "void"}),
                 400, "invalid_parameters")
    assert_error(control(sim, "POST", "/markets", {"ticker": "X", "status": "unknown"}),
                 400, "invalid_parameters")
