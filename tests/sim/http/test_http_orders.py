"""V2 order entry over HTTP: shapes, per-item batch errors, validation, V1 retirement."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dora.sim.runner import RunningSim
from tests.sim.http.helpers import Api, add_trader, assert_error, control, order_body
from tests.sim.http.schemas import check_shape


@pytest.fixture
def quiet(sim_factory: Callable[..., RunningSim]) -> RunningSim:
    return sim_factory(flow=False, tier="prestige")


def test_create_returns_201_with_the_v2_shape(quiet: RunningSim) -> None:
    response = Api(quiet).post("/portfolio/events/orders", json=order_body(client_order_id="c-1"))
    assert response.status_code == 201
    body = response.json()
    check_shape(body, "CreateOrderV2Response")
    assert (body["client_order_id"], body["fill_count"], body["remaining_count"]) == (
        "c-1", "0.00", "5.00")


def test_create_that_fills_reports_average_price_and_fee(quiet: RunningSim, tmp_path: Path) -> None:
    seller = add_trader(quiet, tmp_path)
    seller.create(side="ask", price="0.40", count="3")
    seller.create(side="ask", price="0.42", count="1")
    body = Api(quiet).create(side="bid", price="0.45", count="4",
                             time_in_force="immediate_or_cancel")
    assert (body["fill_count"], body["remaining_count"]) == ("4.00", "0.00")
    assert body["average_fill_price"] == "0.4050"  # (3 x 0.40 + 1 x 0.42) / 4
    assert body["average_fee_paid"] == "0.0200"  # fees $0.06 + $0.02 (rounded up per fill) / 4


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"count": None}, "count is required"),
        ({"side": "yes"}, "side must be one of bid, ask"),
        ({"time_in_force": "gtc"}, "time_in_force"),
        ({"time_in_force": "fill_or_kill", "expiration_time": 2_000_000_000}, "expiration_time"),
        ({"action": "buy"}, "unknown field"),
        ({"price": 5}, "price must be a string"),
    ],
)
def test_invalid_create_is_a_400_with_a_helpful_message(
    quiet: RunningSim, overrides: dict[str, object], fragment: str
) -> None:
    response = Api(quiet).post("/portfolio/events/orders", json=order_body(**overrides))
    assert fragment in assert_error(response, 400, "invalid_parameters")


def test_engine_refusals_keep_their_code_and_status(quiet: RunningSim) -> None:
    api = Api(quiet)
    assert_error(api.post("/portfolio/events/orders", json=order_body(price="0.055")),
                 400, "invalid_price")
    api.create(client_order_id="dup")
    assert_error(api.post("/portfolio/events/orders", json=order_body(client_order_id="dup")),
                 409, "order_already_exists")
    assert_error(api.post("/portfolio/events/orders", json=order_body(ticker="NOPE")),
                 404, "market_not_found")


def test_malformed_json_is_a_400(quiet: RunningSim) -> None:
    api = Api(quiet)
    assert_error(api.post("/portfolio/events/orders", json=[1, 2]), 400, "invalid_parameters")


def test_batch_create_reports_per_order_errors_without_failing_the_rest(quiet: RunningSim) -> None:
    orders = [
        order_body(client_order_id="ok-1"),
        order_body(client_order_id="bad-side", side="sideways"),
        order_body(client_order_id="bad-price", price="0.055"),
        order_body(client_order_id="ok-2", price="0.06"),
    ]
    response = Api(quiet).post("/portfolio/events/orders/batched", json={"orders": orders})
    assert response.status_code == 201
    check_shape(response.json(), "BatchCreateOrdersV2Response")
    items = response.json()["orders"]
    assert [i["client_order_id"] for i in items] == ["ok-1", "bad-side", "bad-price", "ok-2"]
    assert items[0]["error"] is None and items[3]["error"] is None
    assert items[1]["error"]["code"] == "invalid_parameters"
    assert items[2]["error"]["code"] == "invalid_price"
    for good in (items[0], items[3]):
        check_shape(good, "CreateOrderV2Response")
    listed = Api(quiet).get("/portfolio/orders").json()["orders"]
    assert sorted(o["client_order_id"] for o in listed) == ["ok-1", "ok-2"]


def test_cancel_returns_reduced_by(quiet: RunningSim) -> None:
    api = Api(quiet)
    order_id = api.create(client_order_id="to-cancel")["order_id"]
    response = api.delete(f"/portfolio/events/orders/{order_id}")
    assert response.status_code == 200
    check_shape(response.json(), "CancelOrderV2Response")
    assert response.json()["reduced_by"] == "5.00"
    assert response.json()["client_order_id"] == "to-cancel"
    assert_error(api.delete(f"/portfolio/events/orders/{order_id}"), 404, "not_found")
    assert control(quiet, "GET", "/counters").json()["cancel_404"] == 1


def test_batch_cancel_mixes_successes_and_per_order_errors(quiet: RunningSim) -> None:
    api = Api(quiet)
    first, second = api.create()["order_id"], api.create(price="0.06")["order_id"]
    body = {"orders": [{"order_id": first}, {"order_id": "missing"}, {"order_id": second}]}
    response = api.delete("/portfolio/events/orders/batched", json=body)
    assert response.status_code == 200
    items = response.json()["orders"]
    for item in items:
        check_shape(item, "BatchCancelOrdersV2ResponseOrdersInner")
    assert [i["reduced_by"] for i in items] == ["5.00", "0.00", "5.00"]
    assert items[1]["error"]["code"] == "not_found" and items[0]["error"] is None
    assert control(quiet, "GET", "/counters").json()["cancel_404"] == 1


def test_cancel_all_answers_204_and_cancels_everything(quiet: RunningSim) -> None:
    api = Api(quiet)
    api.create()
    api.create(price="0.06")
    response = api.delete("/portfolio/events/orders")
    assert response.status_code == 204 and response.content == b""
    assert api.get("/portfolio/orders", params={"status": "resting"}).json()["orders"] == []


def test_amend_changes_price_and_total_count(quiet: RunningSim) -> None:
    api = Api(quiet)
    order_id = api.create(client_order_id="a-1")["order_id"]
    body = {"ticker": "SIM-MKT-00", "side": "bid", "price": "0.07", "count": "8.00",
            "client_order_id": "a-1", "updated_client_order_id": "a-2"}
    response = api.post(f"/portfolio/events/orders/{order_id}/amend", json=body)
    assert response.status_code == 200, response.text
    check_shape(response.json(), "AmendOrderV2Response")
    assert response.json()["remaining_count"] == "8.00"
    order = api.get(f"/portfolio/orders/{response.json()['order_id']}").json()["order"]
    assert (order["yes_price_dollars"], order["client_order_id"]) == ("0.0700", "a-2")


def test_amend_with_the_wrong_client_order_id_is_refused(quiet: RunningSim) -> None:
    api = Api(quiet)
    order_id = api.create(client_order_id="a-1")["order_id"]
    body = {"ticker": "SIM-MKT-00", "side": "bid", "price": "0.07", "count": "8.00",
            "client_order_id": "someone-else"}
    response = api.post(f"/portfolio/events/orders/{order_id}/amend", json=body)
    assert_error(response, 400, "invalid_parameters")


def test_decrease_needs_exactly_one_of_reduce_by_and_reduce_to(quiet: RunningSim) -> None:
    api = Api(quiet)
    order_id = api.create(count="10")["order_id"]
    path = f"/portfolio/events/orders/{order_id}/decrease"
    response = api.post(path, json={"reduce_to": "4.00"})
    assert response.status_code == 200
    check_shape(response.json(), "DecreaseOrderV2Response")
    assert response.json()["remaining_count"] == "4.00"
    assert api.post(path, json={"reduce_by": "1.00"}).json()["remaining_count"] == "3.00"
    assert_error(api.post(path, json={}), 400, "invalid_parameters")
    assert_error(api.post(path, json={"reduce_by": "1", "reduce_to": "1"}), 400,
                 "invalid_parameters")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/portfolio/orders"), ("POST", "/portfolio/orders/batched"),
     ("DELETE", "/portfolio/orders/abc")],
)
def test_legacy_v1_order_writes_answer_410(quiet: RunningSim, method: str, path: str) -> None:
    response = Api(quiet).call(method, path, json={"ticker": "SIM-MKT-00", "side": "yes",
                                                   "action": "buy", "count": 1, "yes_price": 5})
    assert_error(response, 410, "deprecated_v1_order_endpoint")


def test_unknown_endpoint_is_404_and_wrong_method_405(quiet: RunningSim) -> None:
    api = Api(quiet)
    assert_error(api.get("/portfolio/nothing"), 404, "not_found")
    assert_error(api.put("/portfolio/balance"), 405, "method_not_allowed")


def test_amend_with_expiration_time_moves_only_the_expiry(quiet: RunningSim) -> None:
    api = Api(quiet)
    order_id = api.create(client_order_id="e-1", expiration_time=2_000_000_000)["order_id"]
    body = {"ticker": "SIM-MKT-00", "side": "bid", "price": "0.05", "count": "5.00",
            "client_order_id": "e-1", "expiration_time": 2_000_000_600}
    response = api.post(f"/portfolio/events/orders/{order_id}/amend", json=body)
    assert response.status_code == 200, response.text
    check_shape(response.json(), "AmendOrderV2Response")
    order = api.get(f"/portfolio/orders/{order_id}").json()["order"]
    assert order["expiration_time"] == "2033-05-18T03:43:20Z"
    assert (order["remaining_count_fp"], order["yes_price_dollars"]) == ("5.00", "0.0500")
    bad = api.post(f"/portfolio/events/orders/{order_id}/amend",
                   json={**body, "expiration_time": 0})
    assert "expiration_time" in assert_error(bad, 400, "invalid_parameters")
