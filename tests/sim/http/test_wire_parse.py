from __future__ import annotations

from typing import Any

import pytest

from dora.core.models import SelfTradePrevention, Side, TimeInForce
from dora.sim.http.http_types import ApiError, Query, paginate
from dora.sim.http.wire_parse import (
    batch_item_count,
    parse_amend,
    parse_batch_cancel,
    parse_batch_create,
    parse_contracts_limit,
    parse_create_order,
    parse_decrease,
)


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticker": "M", "side": "bid", "count": "10.00", "price": "0.42",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross",
        "client_order_id": "dora-1", "post_only": True,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_create_order_parses_into_units() -> None:
    order = parse_create_order(order_body(expiration_time=1_800_000_000))
    assert (order.ticker, order.side, order.price, order.count) == ("M", Side.BID, 4200, 1000)
    assert order.time_in_force is TimeInForce.GTC
    assert order.self_trade_prevention is SelfTradePrevention.TAKER_AT_CROSS
    assert order.post_only and not order.reduce_only and order.expiration_s == 1_800_000_000


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"ticker": None}, "ticker is required"),
        ({"side": "buy"}, "side must be one of"),
        ({"count": 10}, "count must be a string"),
        ({"count": "1.234"}, "count must be a fixed-point"),
        ({"count": "0"}, "count must be positive"),
        ({"price": "0.12345"}, "price must be a dollar string"),
        ({"time_in_force": "good_till_time"}, "time_in_force must be one of"),
        ({"self_trade_prevention_type": None}, "self_trade_prevention_type is required"),
        ({"time_in_force": "immediate_or_cancel", "expiration_time": 1_800_000_000},
         "expiration_time is only allowed"),
        ({"post_only": "yes"}, "post_only must be a boolean"),
        ({"yes_price": 42}, "unknown field"),
        ({"client_order_id": "has space"}, "client_order_id must be"),
        ({"subaccount": 3}, "subaccount 3"),
    ],
)
def test_create_order_rejects_bad_input_with_a_helpful_400(
    overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_create_order(order_body(**overrides))
    assert caught.value.status == 400 and caught.value.code == "invalid_parameters"
    assert fragment in caught.value.message


def test_batch_create_isolates_a_bad_item() -> None:
    items = parse_batch_create(
        {"orders": [order_body(), order_body(client_order_id="bad", side="sideways"), "junk"]}
    )
    assert items[0].order is not None and items[0].error is None
    assert items[1].order is None and items[1].error is not None
    assert items[1].client_order_id == "bad" and "orders[1]" in items[1].error.message
    assert items[2].error is not None and items[2].client_order_id == ""


@pytest.mark.parametrize("body", [{}, {"orders": []}, {"orders": {}}, {"orders": [1], "x": 1}])
def test_batch_needs_a_non_empty_orders_list(body: dict[str, Any]) -> None:
    with pytest.raises(ApiError):
        parse_batch_create(body)


def test_batch_cancel_items() -> None:
    items = parse_batch_cancel({"orders": [{"order_id": "a"}, {"id": "b"}, {"order_id": 5}]})
    assert [(i.order_id, i.error is None) for i in items] == [("a", True), ("", False), ("", False)]


def test_batch_item_count() -> None:
    assert batch_item_count({"orders": [1, 2, 3]}) == 3
    assert batch_item_count({"orders": []}) == 1
    assert batch_item_count("nonsense") == 1


def test_decrease_needs_exactly_one_of_reduce_by_and_reduce_to() -> None:
    assert parse_decrease({"reduce_by": "2.00"}) == (200, None)
    assert parse_decrease({"reduce_to": "0"}) == (None, 0)
    for body in ({}, {"reduce_by": "1", "reduce_to": "1"}, {"reduce_by": "0"}):
        with pytest.raises(ApiError):
            parse_decrease(body)


def test_amend_requires_the_full_order_and_parses_new_total() -> None:
    amend = parse_amend({"ticker": "M", "side": "ask", "price": "0.61", "count": "5",
                         "updated_client_order_id": "dora-2"})
    assert (amend.side, amend.price, amend.count) == (Side.ASK, 6100, 500)
    assert amend.updated_client_order_id == "dora-2"
    with pytest.raises(ApiError):
        parse_amend({"ticker": "M", "side": "ask", "price": "0.61"})


def test_contracts_limit_whole_or_fixed_point() -> None:
    assert parse_contracts_limit({"contracts_limit": 5}, "x") == 500
    assert parse_contracts_limit({"contracts_limit_fp": "2.50"}, "x") == 250
    for body in ({}, {"contracts_limit": 0}, {"contracts_limit": 2, "contracts_limit_fp": "3.00"}):
        with pytest.raises(ApiError):
            parse_contracts_limit(body, "x")


def test_query_limit_bounds() -> None:
    assert Query({}).limit() == 100
    assert Query({"limit": ["1000"]}).limit() == 1000
    for bad in ("0", "1001", "ten"):
        with pytest.raises(ApiError):
            Query({"limit": [bad]}).limit()


def test_keyset_pagination_is_stable_when_newer_items_arrive() -> None:
    items = [(ts, f"id{ts}") for ts in range(10)]
    key = lambda item: (-item[0], item[1])  # noqa: E731 - newest first
    first, cursor = paginate(items, key, Query({"limit": ["4"]}))
    assert [ts for ts, _ in first] == [9, 8, 7, 6] and cursor
    items.append((100, "id100"))  # a newer item must not shift the next page
    second, cursor = paginate(items, key, Query({"limit": ["4"], "cursor": [cursor]}))
    assert [ts for ts, _ in second] == [5, 4, 3, 2]
    last, cursor = paginate(items, key, Query({"limit": ["4"], "cursor": [cursor]}))
    assert [ts for ts, _ in last] == [1, 0] and cursor == ""


def test_malformed_cursor_is_a_400() -> None:
    with pytest.raises(ApiError):
        paginate([1, 2], lambda i: (i,), Query({"cursor": ["%%%"]}))
