"""The order group rules dora relies on: the 15 s window, the default limit, the reset policy."""

from __future__ import annotations

from dora.core.models import Fill, Side
from dora.core.order_groups import (
    ResetPolicy,
    TriggeredBy,
    default_group_limit,
    limit_reached,
    reset_due,
)
from tests.core.builders import C, config


def fill(order_id: str, ts_ms: int, contracts: int) -> Fill:
    return Fill(f"f{ts_ms}", order_id, "MKT", Side.BID, 4500, contracts * C, 0, False, ts_ms)


def test_the_limit_counts_the_group_s_matches_within_fifteen_seconds() -> None:
    group = {"a", "b"}
    fills = [fill("a", 0, 3), fill("x", 1_000, 50), fill("b", 14_000, 2)]
    assert limit_reached(fills, group, 5 * C) == 5 * C
    assert limit_reached(fills, group, 6 * C) == 0  # the outsider's fill is not the group's
    spread = [fill("a", 0, 3), fill("b", 15_000, 2)]  # the first has left the window
    assert limit_reached(spread, group, 5 * C) == 0


def test_the_default_limit_is_what_the_caps_allow_both_ways_bounded_by_exposure() -> None:
    markets = [config(max_inventory_yes=20, max_inventory_no=10),
               config(max_inventory_yes=5, max_inventory_no=5, enabled=False)]
    assert default_group_limit(markets, max_total_exposure=100 * C) == 30 * C
    assert default_group_limit(markets, max_total_exposure=10 * C) == 20 * C
    assert default_group_limit([], max_total_exposure=0) == 1 * C


def test_reset_policy() -> None:
    fills = TriggeredBy.FILLS
    assert not reset_due(ResetPolicy.AUTO, fills, 1_000, 60_999, 60_000, 0)
    assert reset_due(ResetPolicy.AUTO, fills, 1_000, 61_000, 60_000, 0)
    assert not reset_due(ResetPolicy.MANUAL, fills, 1_000, 10**9, 60_000, 0)
    assert not reset_due(ResetPolicy.MANUAL, fills, 1_000, 10**9, 60_000, 500)  # an old request
    assert reset_due(ResetPolicy.MANUAL, fills, 1_000, 2_000, 60_000, 1_500)
    assert not reset_due(ResetPolicy.AUTO, TriggeredBy.HALT, 0, 10**9, 60_000, 10**9)
