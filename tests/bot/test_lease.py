"""The lease keeper (dora/bot/lease.py) against moto with fake clocks: who may take a lease and
when, what a holder may still do as its lease runs down, and immunity to wall-clock skew."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from dora.bot.lease import LeaseKeeper, Role
from dora.core.errors import LeaseLostError
from dora.core.shards import ShardId
from dora.runtime.clock import FakeClock
from dora.store.store import Store

LEASE_MS = 20_000
LOG = logging.getLogger("dora.test")

KeeperFactory = Callable[..., LeaseKeeper]


@pytest.fixture
def keeper(store: Store, make_store: Callable[..., Store]) -> KeeperFactory:
    """``keeper(owner, clock=None, shards=1)``: a process's keeper on tables of its own view."""
    def make(owner: str, clock: FakeClock | None = None, shards: int = 1) -> LeaseKeeper:
        own_clock = clock or FakeClock()
        return LeaseKeeper(make_store(clock=own_clock).leases, own_clock, LOG, owner=owner,
                           shards=shards, lease_ms=LEASE_MS)
    return make


def test_a_contender_waits_a_whole_lease_of_no_renewal_on_its_own_clock(keeper) -> None:
    holder_clock, contender_clock = FakeClock(), FakeClock()
    holder = keeper("a", holder_clock)
    contender = keeper("b", contender_clock)
    assert holder.poll(force=True) and holder.role is Role.HOLDER and holder.epoch == 1
    assert not contender.poll(force=True)  # first sight of the record starts its timer
    contender_clock.advance_ms(LEASE_MS - 1)
    holder_clock.advance_ms(LEASE_MS - 1)
    holder.renew()  # a new record version: the contender starts over
    assert not contender.poll(force=True)
    contender_clock.advance_ms(LEASE_MS - 1)
    assert not contender.poll(force=True)
    contender_clock.advance_ms(1)
    assert contender.poll(force=True) and contender.epoch == 2
    with pytest.raises(LeaseLostError):
        holder.renew()
    assert holder.role is Role.STANDBY and not holder.may_place() and not holder.may_write()


@pytest.mark.parametrize("skew_ms", [-3_600_000, 3_600_000])
def test_wall_clock_skew_changes_nothing(keeper, skew_ms: int) -> None:
    """A contender whose wall clock is an hour off sees the holder's expiry long past (or far
    ahead); it still waits exactly one lease of unchanged records on its monotonic clock."""
    holder = keeper("a", FakeClock())
    contender_clock = FakeClock(1_767_225_600_000 + skew_ms)
    contender = keeper("b", contender_clock)
    assert holder.poll(force=True)
    assert not contender.poll(force=True)
    contender_clock.advance_ms(LEASE_MS // 2)
    assert not contender.poll(force=True)
    contender_clock.advance_ms(LEASE_MS // 2)
    assert contender.poll(force=True)


def test_a_holder_places_only_in_the_first_half_and_writes_only_until_the_end(keeper) -> None:
    clock = FakeClock()
    holder = keeper("a", clock)
    assert holder.poll(force=True)
    assert holder.may_place() and holder.may_write()
    clock.advance_ms(LEASE_MS // 2 - 1)
    assert holder.may_place()
    clock.advance_ms(2)
    assert not holder.may_place() and holder.may_write()
    clock.advance_ms(LEASE_MS // 2)
    assert not holder.may_write()
    holder.renew()  # nobody took it: the renewal lands and the holder may work again
    assert holder.may_place()


def test_a_released_lease_is_taken_at_once(keeper) -> None:
    holder, contender = keeper("a"), keeper("b")
    assert holder.poll(force=True)
    assert not contender.poll(force=True)
    holder.release()
    assert holder.role is Role.STANDBY
    assert contender.poll(force=True) and contender.epoch == 2


def test_processes_started_together_take_different_shards(keeper) -> None:
    clock = FakeClock()
    keepers = [keeper(f"p{i}", clock, shards=3) for i in range(4)]
    taken = [k.poll(force=True) for k in keepers]
    assert taken == [True, True, True, False]
    assert sorted(k.shard.index for k in keepers[:3] if k.shard) == [0, 1, 2]
    assert keepers[3].shard is None
    assert {tuple(p.index for p in k.peers()) for k in keepers[:3]} == {(1, 2), (0, 2), (0, 1)}


def test_a_live_lease_of_another_layout_blocks_a_new_layout_until_it_is_gone(
    keeper, store: Store
) -> None:
    old = keeper("old", shards=2)
    clock = FakeClock()
    new = keeper("new", clock, shards=3)
    assert old.poll(force=True)
    old.renew(order_group_id="g-old")
    assert not new.poll(force=True), "two layouts would quote the same markets"
    clock.advance_ms(LEASE_MS)
    assert new.poll(force=True)
    assert new.held is not None and "g-old" in new.held.retired_groups  # its orders get fenced


def test_renewals_come_a_tenth_of_a_lease_apart(keeper, store: Store) -> None:
    clock = FakeClock()
    holder = keeper("a", clock)
    assert holder.poll(force=True)
    rvn = holder.held.rvn if holder.held else ""
    clock.advance_ms(LEASE_MS // 10 - 1)
    holder.renew_if_due()
    assert holder.held is not None and holder.held.rvn == rvn
    clock.advance_ms(1)
    holder.renew_if_due()
    assert holder.held is not None and holder.held.rvn != rvn


def test_the_fence_refuses_without_a_lease(keeper) -> None:
    standby = keeper("b")
    with pytest.raises(LeaseLostError):
        standby.fence()
    holder = keeper("a")
    assert holder.poll(force=True)
    check: dict[str, Any] = holder.fence()["ConditionCheck"]  # type: ignore[assignment]
    assert check["Key"] == {"key": "lease#0"}
    assert check["ExpressionAttributeValues"] == {":owner": "a", ":epoch": 1}


def test_shard_ids_name_the_state_items() -> None:
    assert ShardId(0, 1).item_suffix == ""
    assert ShardId(2, 3).item_suffix == "#2/3" and str(ShardId(2, 3)) == "3/3"
    with pytest.raises(ValueError):
        ShardId(3, 3)
