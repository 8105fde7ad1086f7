"""Strict parsing of Kalshi JSON into dora types (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from dora.core.models import (
    CancelStatus,
    Level,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    PlaceStatus,
    Side,
)
from dora.exchange import wire, wire_reads
from dora.exchange.wire import WireFormatError
from tests.exchange import payloads as p


@pytest.mark.parametrize("missing", ["order_id", "client_order_id", "book_side",
                                     "yes_price_dollars", "remaining_count_fp", "status"])
def test_an_order_missing_a_required_field_names_it(missing: str) -> None:
    raw = p.order("o-1", "c-1")
    del raw[missing]
    with pytest.raises(WireFormatError, match=missing):
        wire_reads.parse_order(raw)


@pytest.mark.parametrize(("field", "value"), [
    ("yes_price_dollars", 0.42),  # a float is not a fixed-point string
    ("yes_price_dollars", "0.42001"),  # more precision than a Price holds
    ("status", "pending"),
    ("book_side", "yes"),
])
def test_an_order_with_a_mistyped_field_is_refused(field: str, value: Any) -> None:
    raw = {**p.order("o-1", "c-1"), field: value}
    with pytest.raises(WireFormatError, match=field):
        wire_reads.parse_order(raw)


def test_an_order_parses_into_exact_units() -> None:
    order = wire_reads.parse_order(p.order("o-1", "c-1", side="ask", price="0.0150",
                                           remaining="2.50", filled="7.50", status="executed"))
    assert (order.side, order.price, order.remaining, order.filled, order.status) == (
        Side.ASK, 150, 250, 750, OrderStatus.EXECUTED)


def test_empty_book_sides_and_derived_asks() -> None:
    book = wire_reads.parse_orderbook("M", {"yes_dollars": [], "no_dollars": [["0.0010", "1.00"]]})
    assert book.bids == () and book.asks == (Level(9990, 100),)
    with pytest.raises(WireFormatError, match="no_dollars"):
        wire_reads.parse_orderbook("M", {"yes_dollars": []})


def test_error_bodies_of_every_shape_give_a_code() -> None:
    assert wire.parse_error(p.error_body("invalid_price", "bad"), 400) == ("invalid_price", "bad")
    assert wire.parse_error({"error": "too many requests"}, 429) == ("http_429",
                                                                     "too many requests")
    assert wire.parse_error("<html>bad gateway</html>", 502) == ("http_502",
                                                                "<html>bad gateway</html>")
    assert wire.parse_error({"code": "not_found", "message": "x"}, 404) == ("not_found", "x")


def test_batch_cancel_item_errors_split_not_found_from_failed() -> None:
    body = {"orders": [
        p.item_error("not_found", "gone", order_id="a"),
        p.item_error("market_closed", "closed", order_id="b"),
    ]}
    results = wire.parse_batch_cancel(body, ["a", "b", "c"])
    assert [r.status for r in results] == [CancelStatus.NOT_FOUND, CancelStatus.FAILED,
                                           CancelStatus.FAILED]
    assert results[2].error_code == "missing_from_response"


def test_one_unreadable_batch_item_is_unknown_on_its_own() -> None:
    requests = [OrderRequest("M", Side.BID, 4200 + i * 100, 100, client_order_id=f"c-{i}")
                for i in range(3)]
    body = {"orders": [
        {"client_order_id": "c-0", "fill_count": "0.00", "remaining_count": "1.00"},  # no id
        {**p.created("o-1", "c-1"), "fill_count": "lots"},
        p.created("o-2", "c-2"),
    ]}
    results = wire.parse_batch_create(body, requests)
    assert [r.status for r in results] == [PlaceStatus.UNKNOWN, PlaceStatus.UNKNOWN,
                                           PlaceStatus.PLACED]
    assert "order_id" in results[0].error_message
    assert results[1].error_code == "unreadable_item"


def test_a_placed_batch_item_without_counts_rests_whole() -> None:
    """Every field of a batch item is optional in the schema; a post-only order cannot have
    filled on arrival, so the whole count rests until the next listing says otherwise."""
    request = OrderRequest("M", Side.BID, 4200, 300, client_order_id="c-1")
    result = wire.parse_batch_create({"orders": [{"client_order_id": "c-1", "order_id": "o"}]},
                                     [request])[0]
    assert (result.status, result.filled, result.remaining) == (PlaceStatus.PLACED, 0, 300)


def test_a_market_needs_its_tick_grid() -> None:
    raw = {**p.market("M"), "price_ranges": []}
    with pytest.raises(WireFormatError, match="price_ranges"):
        wire_reads.parse_market(raw)


def test_fill_time_falls_back_to_the_legacy_seconds_field() -> None:
    raw = p.fill("f")
    del raw["created_time"]
    with pytest.raises(WireFormatError, match="created_time"):
        wire_reads.parse_fill(raw)
    assert wire_reads.parse_fill({**raw, "ts": 1_767_225_600}).ts_ms == 1_767_225_600_000


def test_an_unknown_market_status_makes_the_market_untradable_not_fatal():
    known = wire_reads.parse_market(p.market("A", status="active"))
    future = wire_reads.parse_market(p.market("B", status="some_future_status"))
    assert known.status is MarketStatus.ACTIVE
    assert future.status is MarketStatus.UNKNOWN
    assert not future.status.tradable


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-01T00:00:00.5Z", 1_767_225_600_500), (None, 0), (1_767_225_600, 0),
    ("yesterday", 0)])
def test_a_position_s_last_update_time_never_fails_the_read(value: Any, expected: int) -> None:
    body = {"market_positions": [{
        "ticker": "M1", "exchange_index": 0, "total_traded_dollars": "0.0000",
        "position_fp": "1.00", "market_exposure_dollars": "0.500000",
        "realized_pnl_dollars": "0.0000", "fees_paid_dollars": "0.0000",
        "last_updated_ts": value}], "event_positions": [], "cursor": ""}
    (position,), _ = wire_reads.parse_positions_page(body)
    assert position.updated_ms == expected
