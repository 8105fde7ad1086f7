"""Which of dora's orders the epoch's group keeper counts as the group's: the fills that count
toward its 15 s limit, and a map bounded by time however many orders a requote places."""

from __future__ import annotations

import logging

from dora.bot.groups import TRACKED_FOR_MS, GroupKeeper
from dora.bot.lease import LeaseKeeper
from dora.core.models import Fill, OrderRequest, PlaceResult, PlaceStatus, Side
from dora.core.units import ONE_CONTRACT
from dora.runtime.clock import FakeClock

LOG = logging.getLogger("dora.test")


def keeper(clock: FakeClock) -> GroupKeeper:
    lease = LeaseKeeper(None, clock, LOG, owner="test", shards=1)  # type: ignore[arg-type]
    groups = GroupKeeper(None, lease, clock, LOG)  # type: ignore[arg-type]
    groups.group_id, groups.limit = "g1", 10 * ONE_CONTRACT
    return groups


def placed(order_id: str) -> PlaceResult:
    request = OrderRequest("KXA", Side.BID, 5000, ONE_CONTRACT, f"dora-{order_id}")
    return PlaceResult(request, PlaceStatus.PLACED, order_id=order_id)


def fill(order_id: str, clock: FakeClock, contracts: int) -> Fill:
    return Fill(f"f-{order_id}", order_id, "KXA", Side.BID, 5000, contracts * ONE_CONTRACT, 0,
                False, clock.now_ms())


def test_an_order_neither_placed_nor_listed_for_a_minute_is_forgotten_and_its_fills_ignored(
) -> None:
    clock = FakeClock()
    groups = keeper(clock)
    groups.on_placed([placed("o1")])
    clock.advance_ms(TRACKED_FOR_MS // 2)
    groups.on_listed([("o2", "g1"), ("o3", "another-group")])
    assert set(groups.order_ids) == {"o1", "o2"}
    clock.advance_ms(TRACKED_FOR_MS // 2 + 1)
    groups.on_listed([("o2", "g1")])  # o2 still rests: seen again
    assert set(groups.order_ids) == {"o2"}
    groups.on_fills([fill("o1", clock, 10)])
    assert groups.triggered_by is None  # not the group's any more
    groups.on_fills([fill("o2", clock, 10)])
    assert groups.triggered_by is not None  # the limit, reached by the group's own order


def test_the_map_is_bounded_by_time_not_by_how_many_orders_a_requote_places() -> None:
    clock = FakeClock()
    groups = keeper(clock)
    for cycle in range(300):  # 2,000 creates a second for five minutes
        groups.on_placed([placed(f"c{cycle}-{n}") for n in range(2_000)])
        groups.on_listed([])
        clock.advance_ms(1_000)
    assert len(groups.order_ids) <= 2_000 * (TRACKED_FOR_MS // 1_000 + 1)
    assert "c299-1999" in groups.order_ids and "c200-0" not in groups.order_ids
