"""The account's API limits and endpoint costs in Kalshi's shapes; the tier follows /_sim/tier.
A market's tick grid can change under a trader (/_sim/markets/{ticker}/price_level_structure)."""

from __future__ import annotations

from collections.abc import Callable

from dora.exchange.wire_reads import parse_account_limits, parse_endpoint_costs
from dora.runtime.clock import FakeClock
from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, assert_error, control, order_body
from tests.sim.http.schemas import check_shape


def test_limits_are_the_tiers_buckets_and_follow_the_tier(
    sim_factory: Callable[..., RunningSim],
) -> None:
    sim = sim_factory(clock=FakeClock(), flow=False, tick_ms=0, tier="basic")
    api = Api(sim)
    body = api.get("/account/limits").json()
    check_shape(body, "GetAccountApiLimitsResponse")
    for bucket in ("read", "write"):
        check_shape(body[bucket], "BucketLimit")
    assert body["usage_tier"] == "basic"
    assert body["write"] == {"refill_rate": 100, "bucket_capacity": 100}
    assert body["read"] == {"refill_rate": 200, "bucket_capacity": 400}
    assert control(sim, "POST", "/tier", {"tier": "advanced"}).status_code == 200
    tier = parse_account_limits(api.get("/account/limits").json())
    assert (tier.name, tier.write_rate, tier.write_capacity) == ("advanced", 300, 600)


def test_limits_need_authentication(sim: RunningSim) -> None:
    assert Api(sim).get("/account/limits", signed=False).status_code == 401


def test_endpoint_costs_list_only_non_default_costs(sim: RunningSim) -> None:
    body = Api(sim).get("/account/endpoint_costs", signed=False).json()
    check_shape(body, "GetAccountEndpointCostsResponse")
    assert body["default_cost"] == 10
    for item in body["endpoint_costs"]:
        check_shape(item, "EndpointTokenCost")
        assert item["cost"] != 10
    table = parse_endpoint_costs(body)
    assert table.cost("POST", "/portfolio/events/orders/batched", 7) == 70  # per item
    assert table.cost("DELETE", "/portfolio/events/orders/{order_id}") == 2
    assert table.cost("GET", "/portfolio/balance") == 10


def test_a_changed_tick_grid_refuses_prices_off_it(sim_factory: Callable[..., RunningSim]) -> None:
    sim = sim_factory(clock=FakeClock(), flow=False, tick_ms=0)
    api = Api(sim)
    ticker = "SIM-MKT-00"
    assert control(sim, "POST", f"/markets/{ticker}/price_level_structure",
                   {"price_level_structure": "deci_cent"}).status_code == 200
    api.create(price="0.055", client_order_id="on-deci-grid")
    market = api.get(f"/markets/{ticker}", signed=False).json()["market"]
    assert market["price_level_structure"] == "deci_cent"
    control(sim, "POST", f"/markets/{ticker}/price_level_structure",
            {"price_level_structure": "linear_cent"})
    refused = api.post("/portfolio/events/orders",
                       json=order_body(price="0.055", client_order_id="off-grid"))
    assert_error(refused, 400, "invalid_price")
    resting = api.get("/portfolio/orders", params={"status": "resting"}).json()["orders"]
    assert [o["client_order_id"] for o in resting] == ["on-deci-grid"]  # resting ones stay
    bad = control(sim, "POST", f"/markets/{ticker}/price_level_structure",
                  {"price_level_structure": "quarter_cent"})
    assert bad.status_code == 400
