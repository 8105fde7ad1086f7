"""`dora calibrate` (a read-only pre-flight), `dora markets reset` and what `dora status` shows of
the lifecycle, through the real CLI against the local exchange and DynamoDB."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import requests
from click.testing import CliRunner, Result

from dora.cli.main import main
from dora.core.breaker import Breaker, BreakerState
from dora.runtime.clock import SystemClock
from dora.sim.runner import RunningSim
from dora.store.store import Store, make_dynamodb_resource

CONFIG = {"enabled": True, "quote_size": Decimal("10"), "min_spread": Decimal("0.02"),
          "max_inventory_yes": Decimal("50"), "max_inventory_no": Decimal("50")}


def calibrate(sim: RunningSim, dynamo_endpoint: str, *args: str) -> Result:
    env = {"DORA_DYNAMODB_ENDPOINT": dynamo_endpoint, "DORA_TABLE_ENV": "sim",
           "KALSHI_API_KEY_ID": sim.key_id, "KALSHI_PRIVATE_KEY_PATH": sim.private_key_path or ""}
    return CliRunner().invoke(main, ["calibrate", "--url", sim.url, *args], env=env)


def store_of(dynamo_endpoint: str) -> Store:
    return Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "sim", SystemClock())


def test_calibrate_names_a_non_viable_market_and_insufficient_cash_and_writes_nothing(
    cli: Callable[..., Result], dynamo_endpoint: str, sim_factory: Callable[..., RunningSim],
) -> None:
    sim = sim_factory(markets=3, flow=False, starting_cash=5_000_000)  # $5 for ~$30 of quotes
    store = store_of(dynamo_endpoint)
    tickers = ["SIM-MKT-00", "SIM-MKT-01", "SIM-MKT-02", "SIM-GONE-99"]
    for ticker in tickers:
        store.put_market_config_item({"market_id": ticker, **CONFIG})
    requests.post(f"{sim.control_url}/markets/SIM-MKT-02/close_time", json={"close_in_s": 60},
                  timeout=5).raise_for_status()
    with sim.lock:
        for ticker in tickers[:3]:
            sim.engine.seed_book(ticker)  # outside makers on both sides
    result = calibrate(sim, dynamo_endpoint, "--tier", "advanced")
    out = result.output
    assert result.exit_code == 0, out
    assert "[warn] markets" in out and "2 of 4 enabled markets viable" in out
    assert "SIM-GONE-99: not_listed" in out
    assert "SIM-MKT-02: closes_within_guard" in out
    assert "[warn] cash" in out and "insufficient cash" in out and "not affordable" in out
    assert "tier_mismatch" in out  # --tier advanced, the account is basic
    assert store.get_state_item("calibration") is None  # read-only: nothing saved
    with sim.lock:
        assert sim.engine.orders("dora", status=None) == []  # nothing placed


def test_calibrate_fails_a_step_it_cannot_complete_and_exits_1(
    cli: Callable[..., Result], dynamo_endpoint: str, sim_factory: Callable[..., RunningSim],
) -> None:
    sim = sim_factory(markets=1, flow=False)
    requests.post(f"{sim.control_url}/knobs", json={"fault_rate": "1"},
                  timeout=5).raise_for_status()  # every answer a 503
    result = calibrate(sim, dynamo_endpoint)
    assert result.exit_code == 1, result.output
    assert "[fail] exchange" in result.output and "[fail] state_sync" in result.output


def test_markets_reset_closes_a_breaker_and_status_shows_the_lifecycle(
    cli: Callable[..., Result], dynamo_endpoint: str,
) -> None:
    store = store_of(dynamo_endpoint)
    store.load_state()
    opened = Breaker(BreakerState.OPEN, failures=5, trips=2, open_until_ms=1_767_225_660_000,
                     changed_ms=1_767_225_600_000, reason="invalid_price")
    store.save_api_errors({}, {"SIM-MKT-00": opened})
    shown = cli("status").output
    assert "breakers:    1 not closed" in shown and "SIM-MKT-00" in shown
    assert "invalid_price" in shown
    result = cli("markets", "reset", "SIM-MKT-00", "--env", "sim")
    assert result.exit_code == 0, result.output
    breaker = store.load_state().breakers["SIM-MKT-00"]
    assert breaker.state is BreakerState.CLOSED and breaker.reset_ms and breaker.trips == 0
    assert "breakers:    0 not closed" in cli("status").output


def test_calibrate_warns_when_the_tier_cannot_pay_a_full_requote_in_one_loop_interval(
    cli: Callable[..., Result], dynamo_endpoint: str, sim_factory: Callable[..., RunningSim],
) -> None:
    sim = sim_factory(markets=4, flow=False)  # the account is basic: 100 write tokens a second
    store = store_of(dynamo_endpoint)
    for index in range(4):  # 4 markets x 3 levels x 2 sides x (10 create + 2 cancel) = 288
        store.put_market_config_item({"market_id": f"SIM-MKT-0{index}", **CONFIG,
                                      "levels": Decimal(3)})
    with sim.lock:
        for index in range(4):
            sim.engine.seed_book(f"SIM-MKT-0{index}")
    store.set_global_fields({"loop_interval_ms": Decimal(1000)})  # 95 held + 100 refilled
    out = calibrate(sim, dynamo_endpoint).output
    assert "[warn] markets" in out and "4 of 4 enabled markets viable" in out
    assert "requote_budget: a full requote of 4 markets (24 orders) costs 288" in out
    assert "pays 195 in a 1 s loop interval" in out and "2 markets fit" in out
    store.set_global_fields({"loop_interval_ms": Decimal(2000)})  # 295 >= 288
    out = calibrate(sim, dynamo_endpoint).output
    assert "[ok  ] markets" in out and "requote_budget" not in out
