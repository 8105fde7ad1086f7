"""Order groups over HTTP (docs/kalshi-notes.md#order-groups)."""

from __future__ import annotations

from collections.abc import Callable

from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, assert_error
from tests.sim.http.schemas import check_shape


def test_order_group_lifecycle(sim_factory: Callable[..., RunningSim]) -> None:
    api = Api(sim_factory(flow=False, tier="prestige"))
    created = api.post("/portfolio/order_groups/create", json={"contracts_limit": 10})
    assert created.status_code == 201
    check_shape(created.json(), "CreateOrderGroupResponse")
    group_id = created.json()["order_group_id"]
    order_id = api.create(order_group_id=group_id)["order_id"]

    listed = api.get("/portfolio/order_groups").json()
    (summary,) = listed["order_groups"]
    check_shape(summary, "OrderGroup")
    assert (summary["id"], summary["contracts_limit_fp"]) == (group_id, "10.00")

    detail = api.get(f"/portfolio/order_groups/{group_id}").json()
    check_shape(detail, "GetOrderGroupResponse")
    assert detail["orders"] == [order_id]

    path = f"/portfolio/order_groups/{group_id}"
    assert api.put(f"{path}/limit", json={"contracts_limit_fp": "20.00"}).json() == {}
    assert api.get(path).json()["contracts_limit_fp"] == "20.00"
    assert api.put(f"{path}/trigger").json() == {}
    assert api.get(f"/portfolio/orders/{order_id}").json()["order"]["status"] == "canceled"
    refused = api.post("/portfolio/events/orders", json={
        "ticker": "SIM-MKT-00", "side": "bid", "count": "1", "price": "0.05",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker",
        "order_group_id": group_id})
    assert_error(refused, 409, "order_group_triggered")
    assert api.put(f"{path}/reset").json() == {}
    api.create(order_group_id=group_id)
    assert api.delete(path).json() == {}
    assert_error(api.get(path), 404, "not_found")


def test_group_create_validation(sim: RunningSim) -> None:
    api = Api(sim)
    for body in ({}, {"contracts_limit": 0}, {"contracts_limit": "5"}, {"limit": 5}):
        assert_error(api.post("/portfolio/order_groups/create", json=body), 400,
                     "invalid_parameters")
