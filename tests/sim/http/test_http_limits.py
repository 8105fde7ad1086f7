"""Server-side rate limits over HTTP: token buckets per tier, the whole-batch rule, 429 body."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dora.runtime.clock import FakeClock
from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, control, order_body

TOO_MANY = {"error": "too many requests"}


@pytest.fixture
def frozen(sim_factory: Callable[..., RunningSim]) -> tuple[RunningSim, FakeClock]:
    clock = FakeClock()
    return sim_factory(clock=clock, flow=False, tick_ms=0, tier="basic"), clock


def batch(n: int, start: int = 0) -> dict[str, object]:
    return {"orders": [order_body(client_order_id=f"b-{start + i}") for i in range(n)]}


def test_a_batch_bigger_than_the_bucket_is_rejected_whole(
    frozen: tuple[RunningSim, FakeClock]
) -> None:
    sim, _ = frozen
    api = Api(sim)
    response = api.post("/portfolio/events/orders/batched", json=batch(11))  # 110 > 100 tokens
    assert response.status_code == 429 and response.json() == TOO_MANY
    assert api.get("/portfolio/orders").json()["orders"] == []
    assert api.post("/portfolio/events/orders/batched", json=batch(10)).status_code == 201
    assert len(api.get("/portfolio/orders").json()["orders"]) == 10


def test_write_bucket_refills_continuously(frozen: tuple[RunningSim, FakeClock]) -> None:
    sim, clock = frozen
    api = Api(sim)
    assert api.post("/portfolio/events/orders/batched", json=batch(10)).status_code == 201
    refused = api.post("/portfolio/events/orders", json=order_body())
    assert refused.status_code == 429 and refused.json() == TOO_MANY
    clock.advance_ms(90)  # 9 tokens: still short of 10
    assert api.post("/portfolio/events/orders", json=order_body()).status_code == 429
    clock.advance_ms(10)
    assert api.post("/portfolio/events/orders", json=order_body()).status_code == 201


def test_reads_have_their_own_bucket(frozen: tuple[RunningSim, FakeClock]) -> None:
    sim, _ = frozen
    api = Api(sim)
    assert api.post("/portfolio/events/orders/batched", json=batch(10)).status_code == 201
    statuses = [api.get("/portfolio/balance").status_code for _ in range(41)]
    assert statuses == [200] * 40 + [429]  # basic read bucket: 400 tokens, 10 per read


def test_batch_cancel_is_billed_per_item(frozen: tuple[RunningSim, FakeClock]) -> None:
    sim, clock = frozen
    api = Api(sim)
    ids = [item["order_id"] for item in
           api.post("/portfolio/events/orders/batched", json=batch(10)).json()["orders"]]
    clock.advance_ms(1_000)  # refill to 100
    cancel = {"orders": [{"order_id": i} for i in ids] * 5 + [{"order_id": ids[0]}]}  # 51 x 2
    assert api.delete("/portfolio/events/orders/batched", json=cancel).status_code == 429
    cancel["orders"] = cancel["orders"][:50]  # 100 tokens: fits exactly
    assert api.delete("/portfolio/events/orders/batched", json=cancel).status_code == 200


def test_429s_are_counted(frozen: tuple[RunningSim, FakeClock]) -> None:
    sim, _ = frozen
    api = Api(sim)
    api.post("/portfolio/events/orders/batched", json=batch(11))
    counters = control(sim, "GET", "/counters").json()
    assert counters["status"]["429"] == 1
    assert counters["requests"]["POST /portfolio/events/orders/batched"] == 1


def test_higher_tier_has_more_room(sim_factory: Callable[..., RunningSim]) -> None:
    sim = sim_factory(clock=FakeClock(), flow=False, tick_ms=0, tier="advanced")  # write cap 600
    api = Api(sim)
    response = api.post("/portfolio/events/orders/batched", json=batch(20))
    assert response.status_code == 201


def test_signed_market_data_reads_share_the_account_read_bucket(
    frozen: tuple[RunningSim, FakeClock]
) -> None:
    sim, _ = frozen
    api = Api(sim)
    assert all(api.get("/markets/SIM-MKT-00").status_code == 200 for _ in range(40))
    assert api.get("/portfolio/balance").status_code == 429
    assert api.get("/markets/SIM-MKT-00", signed=False).status_code == 200  # anonymous bucket
