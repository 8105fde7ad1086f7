"""State items that outgrow one DynamoDB item are written as a head and pages in one transaction,
read back joined, and never mixed across versions (dora.store.paging).

The first test runs at the real size against the local endpoint, which refuses an item over
400 KB as DynamoDB does; the others shrink the page size (``small_pages``) so the same paths run
with a few dozen orders and stay fast."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dora.core.errors import LeaseLostError, StaleWriteError, StoreError
from dora.core.models import PositionState, RestingOrder, RiskState, Side
from dora.store import paging
from dora.store.codec import to_item
from dora.store.items import OPEN_ORDERS, open_orders_body
from dora.store.paging import PAGES, ItemTooLarge, item_size, page_key, split
from dora.store.store import Store
from tests.store.test_lease import KEY, fenced, take
from tests.store.test_lost_ack import LoseFirstAck, lose_next_answer

NOW = 1_767_225_600_000
TABLE = "dora_state_test"


def resting(markets: int, levels: int = 1, tag: str = "") -> list[RestingOrder]:
    """dora's quotes on ``markets`` markets, ``levels`` a side, with exchange-length ids."""
    return [
        RestingOrder(f"{m:04d}{side.value}{level}{tag}-0a1b-4c2d-8e3f-9a8b7c6d5e4f",
                     f"dora-e12s0-ab12cd-{m}-0123456789-{side.value[0]}{level}",
                     f"KXHIGHTEMPNYC-26JAN01-B{m:04d}.5", side, 4000 + 100 * level,
                     1_000, 250, created_ms=NOW - level)
        for m in range(markets) for side in Side for level in range(levels)
    ]


def raw(resource: Any, key: str) -> dict[str, Any] | None:
    item = resource.Table(TABLE).get_item(Key={"key": key}).get("Item")
    return dict(item) if item else None


def stored_ids(store: Store) -> set[str]:
    item = store.get_state_item(OPEN_ORDERS)
    return set(item["orders"]) if item else set()


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Items of 12 KB, pages of 8 KB: 40 markets' orders take four pages."""
    monkeypatch.setattr(paging, "ITEM_LIMIT", 12_000)
    monkeypatch.setattr(paging, "PAGE_BYTES", 8_000)


def test_two_thousand_orders_save_and_read_back_though_one_item_would_be_refused(
    store: Store, resource: Any
) -> None:
    orders = resting(1_000)  # 1,000 markets, a bid and an ask each: the 2,000 orders
    ids = {o.order_id: f"run-abc:{o.ticker}:123456" for o in orders}
    body = to_item({**open_orders_body(orders, ids, NOW), "key": "whole"})
    assert item_size(body) > paging.ITEM_LIMIT
    with pytest.raises(ClientError, match="size"):
        resource.Table(TABLE).put_item(Item=body)  # the endpoint enforces DynamoDB's limit

    store.load_state()
    assert store.save_open_orders(orders, ids) == 0
    head = raw(resource, OPEN_ORDERS)
    assert head is not None and head[PAGES] > 1
    first = next(iter(head["orders"].values()))  # the dashboard's shape, on the first page
    assert first["market_id"] and first["client_order_id"].startswith("dora-")
    joined = store.get_state_item(OPEN_ORDERS)
    assert joined is not None and set(joined["orders"]) == set(ids)
    assert joined["orders"][orders[0].order_id]["decision_id"] == ids[orders[0].order_id]


@pytest.mark.usefixtures("small_pages")
def test_a_shrinking_item_deletes_the_pages_it_no_longer_needs(
    store: Store, resource: Any, make_store: Callable[..., Store]
) -> None:
    orders = resting(40)
    store.load_state()
    store.save_open_orders(orders, {})
    pages = int(raw(resource, OPEN_ORDERS)[PAGES])  # type: ignore[index]
    assert pages > 2
    store.save_open_orders(orders[:4], {})

    assert raw(resource, OPEN_ORDERS).get(PAGES) is None  # type: ignore[union-attr]
    assert all(raw(resource, page_key(OPEN_ORDERS, n)) is None for n in range(2, pages + 1))
    store.save_open_orders(orders, {})
    restarted = make_store()  # a restart knows the pages from its read
    restarted.load_state()
    restarted.save_open_orders(orders[:2], {})
    assert all(raw(resource, page_key(OPEN_ORDERS, n)) is None for n in range(2, pages + 1))
    assert stored_ids(restarted) == {o.order_id for o in orders[:2]}


@pytest.mark.usefixtures("small_pages")
def test_many_positions_and_recent_fills_save_together_and_load_back(
    store: Store, make_store: Callable[..., Store], resource: Any
) -> None:
    positions = {f"KXHIGHTEMPNYC-26JAN01-B{n:06d}.5": PositionState(
        f"KXHIGHTEMPNYC-26JAN01-B{n:06d}.5", net=-1_234_567, open_cost=6_830_678_901,
        realized_pnl=-1_234_567_891, fees_paid=123_456_789, opened_ms=NOW - 1,
        last_reduced_ms=NOW - 2) for n in range(60)}
    fills = {f"{n:08d}-0a1b-4c2d-8e3f-9a8b7c6d5e4f": NOW - n for n in range(300)}
    store.load_state()
    store.save_snapshot(positions, RiskState(daily_pnl=-5), fills)

    assert raw(resource, "positions")[PAGES] > 1  # type: ignore[index]
    assert raw(resource, "recent_fills")[PAGES] > 1  # type: ignore[index]
    loaded = make_store().load_state()
    assert loaded.positions == positions
    assert loaded.recent_fills == fills
    assert loaded.risk.daily_pnl == -5


@pytest.mark.usefixtures("small_pages")
def test_a_lost_answer_to_a_paged_save_is_success(
    store: Store, resource: Any, make_store: Callable[..., Store]
) -> None:
    """The transaction landed but its answer was lost: the retry fails its version condition,
    and the store reads back the head and every page, finds its own write, and goes on."""
    orders = resting(40)
    store.load_state()
    store.save_open_orders(orders[:3], {})
    lose_first = LoseFirstAck("transact_write_items")
    resource.meta.client.meta.events.register("before-send.dynamodb.TransactWriteItems",
                                              lose_first)
    store.save_open_orders(orders, {})
    assert lose_first.attempts == 2
    other = make_store()
    other.load_state()
    assert stored_ids(other) == {o.order_id for o in orders}
    store.save_open_orders(orders[:5], {})  # its version moved on with the landed write
    assert stored_ids(other) == {o.order_id for o in orders[:5]}


@pytest.mark.usefixtures("small_pages")
def test_a_paged_save_whose_answer_was_lost_after_it_landed_is_taken_as_written(
    resource_once: Any, clock: Any
) -> None:
    """Its only attempt landed and got no answer: the next save takes its version and knows the
    pages it wrote, so shrinking deletes them."""
    store = Store(resource_once, "test", clock)
    store.create_tables()
    store.load_state()
    orders = resting(40)
    store.save_open_orders(orders[:3], {})
    lose_next_answer(resource_once, "transact_write_items", landing=True)
    with pytest.raises(StoreError):
        store.save_open_orders(orders, {})
    pages = int(raw(resource_once, OPEN_ORDERS)[PAGES])  # type: ignore[index]
    assert pages > 2

    store.save_open_orders(orders[:4], {})
    assert all(raw(resource_once, page_key(OPEN_ORDERS, n)) is None for n in range(2, pages + 1))
    assert stored_ids(store) == {o.order_id for o in orders[:4]}


@pytest.mark.usefixtures("small_pages")
def test_a_save_that_never_lands_leaves_the_previous_pages_whole(
    store: Store, resource: Any
) -> None:
    """Every attempt of the paged write dies on the wire (the process killed before an answer,
    or the endpoint gone): readers still see the previous set, all of it, never a mix."""
    before, after = resting(40), resting(40, tag="n")
    store.load_state()
    store.save_open_orders(before, {})

    def dropped(**_kwargs: Any) -> None:
        raise ConnectionResetError("connection dropped mid-transaction")

    resource.meta.client.meta.events.register("before-send.dynamodb.TransactWriteItems",
                                              dropped)
    with pytest.raises((StoreError, ConnectionResetError)):
        store.save_open_orders(after, {})
    resource.meta.client.meta.events.unregister("before-send.dynamodb.TransactWriteItems",
                                                dropped)
    assert stored_ids(store) == {o.order_id for o in before}


@pytest.mark.usefixtures("small_pages")
def test_a_second_writer_is_refused_on_a_paged_item(
    make_store: Callable[..., Store], store: Store
) -> None:
    first, second = store, make_store()
    first.load_state()
    second.load_state()
    first.save_open_orders(resting(40), {})
    with pytest.raises(StaleWriteError):
        second.save_open_orders(resting(40, tag="x"), {})
    assert stored_ids(first) == {o.order_id for o in resting(40)}


@pytest.mark.usefixtures("small_pages")
def test_a_paged_save_is_fenced_by_the_lease(
    store: Store, make_store: Callable[..., Store]
) -> None:
    """A holder that lost its lease cannot write its pages, and the new holder's set stays."""
    fenced(store)
    store.save_open_orders(resting(40), {})
    other = make_store()
    assert take(other.leases, "b", other.leases.read_one(KEY)) is not None
    with pytest.raises(LeaseLostError):
        store.save_open_orders(resting(40, tag="late"), {})
    assert stored_ids(store) == {o.order_id for o in resting(40)}


@pytest.mark.usefixtures("small_pages")
def test_a_reader_never_joins_pages_of_another_version(store: Store, resource: Any) -> None:
    """A page left from an earlier write (as if the head moved on between the reads) is never
    joined to the head: the read tries again, and past its rounds it fails loudly."""
    store.load_state()
    store.save_open_orders(resting(40), {})
    table = resource.Table(TABLE)
    page = dict(table.get_item(Key={"key": page_key(OPEN_ORDERS, 2)})["Item"])
    table.put_item(Item={**page, "head_version": page["head_version"] - 1})
    with pytest.raises(StoreError, match="pages kept changing"):
        store.get_state_item(OPEN_ORDERS)


@pytest.mark.usefixtures("small_pages")
def test_open_orders_past_the_most_pages_leave_the_rest_out_and_say_so(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 2)
    orders = resting(40)
    store.load_state()
    left_out = store.save_open_orders(orders, {})
    item = store.get_state_item(OPEN_ORDERS)
    assert item is not None and left_out > 0
    assert item["left_out"] == left_out
    assert len(item["orders"]) + left_out == len(orders)


@pytest.mark.usefixtures("small_pages")
def test_positions_never_leave_anything_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 3)
    body = {"positions": {f"M{n}": {"net_yes_qty": n} for n in range(5_000)}}
    with pytest.raises(ItemTooLarge):
        split(body, "positions")
    kept = split(body, "positions", may_leave_out=True)
    assert kept.left_out > 0 and kept.head["left_out"] == kept.left_out


def test_every_page_fits_the_item_limit_by_the_estimate() -> None:
    body = {"orders": {f"o{n}": {"market_id": "K" * 40, "price": n, "flag": True}
                       for n in range(20_000)}, "last_updated": "2026-01-01T00:00:00.000Z"}
    parts = split(body, "orders")
    assert parts.pages and item_size(parts.head) <= paging.ITEM_LIMIT - 64
    assert all(item_size(p) <= paging.ITEM_LIMIT - 64 for p in parts.pages)
    assert sum(len(p["orders"]) for p in parts.pages) + len(parts.head["orders"]) == 20_000
