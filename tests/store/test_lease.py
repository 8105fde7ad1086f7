"""Shard lease items (dora/store/lease.py) on moto: conditional acquire, renew and release, the
lost-acknowledgement re-read, and state writes fenced by the lease."""

from __future__ import annotations

from typing import Any

import pytest

from dora.core.errors import LeaseLostError, StaleWriteError
from dora.core.models import PositionState, RiskState
from dora.core.shards import ShardId
from dora.store.lease import LeaseRecord, LeaseStore
from dora.store.store import Store
from tests.store.test_lost_ack import LoseFirstAck

KEY = "lease#0"


def take(leases: LeaseStore, owner: str, seen: LeaseRecord | None = None,
         now_ms: int = 1_000) -> LeaseRecord | None:
    return leases.acquire(KEY, seen, owner=owner, lease_ms=20_000, shards=1, now_ms=now_ms)


def test_the_first_contender_takes_an_absent_lease_and_a_second_cannot(store: Store) -> None:
    first = take(store.leases, "a")
    assert first is not None and (first.owner, first.epoch) == ("a", 1)
    assert take(store.leases, "b") is None  # it saw the item absent, but it is not any more
    stored = store.leases.read_one(KEY)
    assert stored == first and stored.expires_at_ms == 21_000


def test_a_takeover_needs_the_version_it_watched_and_moves_the_epoch_on(store: Store) -> None:
    first = take(store.leases, "a")
    assert first is not None
    first = store.leases.renew(first, now_ms=2_000, lease_ms=20_000, order_group_id="g1")
    stale_view = first
    renewed = store.leases.renew(first, now_ms=3_000, lease_ms=20_000)
    assert take(store.leases, "b", stale_view) is None  # the holder renewed since: not expired
    second = take(store.leases, "b", renewed)
    assert second is not None and (second.owner, second.epoch) == ("b", 2)
    assert second.order_group_id == "" and second.retired_groups == ("g1",)
    with pytest.raises(LeaseLostError):
        store.leases.renew(renewed, now_ms=4_000, lease_ms=20_000)


def test_release_frees_the_lease_and_a_late_release_is_harmless(store: Store) -> None:
    held = take(store.leases, "a")
    assert held is not None
    held = store.leases.renew(held, now_ms=2_000, lease_ms=20_000, order_group_id="g1")
    store.leases.release(held, now_ms=3_000)
    released = store.leases.read_one(KEY)
    assert released is not None and released.released and released.expires_at_ms == 0
    store.leases.release(held, now_ms=4_000)  # already released: done, no error
    successor = take(store.leases, "b", released)
    assert successor is not None and successor.epoch == 2 and successor.retired_groups == ("g1",)


def test_a_lost_answer_to_an_acquire_is_not_taken_for_losing_the_race(
    store: Store, resource: Any
) -> None:
    hook = LoseFirstAck("put_item")
    resource.meta.client.meta.events.register("before-send.dynamodb.PutItem", hook)
    result = take(store.leases, "a")
    assert hook.attempts == 2, "the SDK did not retry: the test proves nothing"
    assert result is not None and result.owner == "a"
    assert store.leases.read_one(KEY) == result


def test_a_lost_answer_to_a_release_is_not_taken_for_a_lost_lease(store: Store,
                                                                  resource: Any) -> None:
    """(A renewal's retry passes its own condition again: owner and epoch are unchanged.)"""
    held = take(store.leases, "a")
    assert held is not None
    hook = LoseFirstAck("update_item")
    resource.meta.client.meta.events.register("before-send.dynamodb.UpdateItem", hook)
    store.leases.release(held, now_ms=5_000)
    assert hook.attempts == 2, "the SDK did not retry: the test proves nothing"
    released = store.leases.read_one(KEY)
    assert released is not None and released.released


def fenced(store: Store) -> LeaseRecord:
    """A holder's store: its lease taken, every state write fenced by it, state loaded."""
    held = take(store.leases, "a")
    assert held is not None
    store.fence_with(lambda: store.leases.fence_check(held))
    store.load_state()
    return held


def test_state_writes_carry_the_lease_and_fail_once_it_is_taken(store: Store,
                                                                make_store: Any) -> None:
    fenced(store)
    store.save_snapshot({"T": PositionState("T", net=100)}, RiskState(daily_pnl=-5), {"f": 1})
    store.save_risk_state(RiskState(daily_pnl=-6))
    other = make_store()
    assert take(other.leases, "b", other.leases.read_one(KEY)) is not None
    with pytest.raises(LeaseLostError):
        store.save_risk_state(RiskState(daily_pnl=-7))
    with pytest.raises(LeaseLostError):
        store.save_snapshot({}, RiskState(daily_pnl=-8), {})
    assert other.load_state().risk.daily_pnl == -6  # nothing of the old holder's landed


def test_a_fence_without_a_lease_never_sends_the_write(store: Store, make_store: Any) -> None:
    def no_lease() -> dict[str, Any]:
        raise LeaseLostError("standby")

    store.fence_with(no_lease)
    with pytest.raises(LeaseLostError):
        store.save_risk_state(RiskState(daily_pnl=-1))
    assert make_store().get_state_item("risk_state") is None


def test_a_version_conflict_under_the_fence_is_still_a_stale_write(store: Store,
                                                                   make_store: Any) -> None:
    fenced(store)
    make_store().save_risk_state(RiskState(daily_pnl=-9))  # an operator's `dora halt`
    with pytest.raises(StaleWriteError):
        store.save_risk_state(RiskState(daily_pnl=-1))


def test_shard_items_carry_the_shard_and_a_single_shard_keeps_the_old_names(
    store: Store, make_store: Any
) -> None:
    store.save_risk_state(RiskState(daily_pnl=-1))
    sharded = make_store()
    sharded.use_shard(ShardId(1, 3))
    sharded.load_state()
    sharded.save_snapshot({"T": PositionState("T", net=200)}, RiskState(daily_pnl=-2), {})
    reader = make_store()
    assert reader.get_state_item("risk_state") is not None
    assert reader.get_state_item("positions#1/3") is not None
    assert reader.get_state_item("positions") is None
    assert reader.load_state().risk.daily_pnl == -1
    figures = reader.load_peer_figures([ShardId(1, 3), ShardId(2, 3)])
    assert list(figures) == [ShardId(1, 3)] and figures[ShardId(1, 3)].daily_pnl == -2


def test_an_operator_reset_is_recorded_only_for_the_group_it_names(store: Store) -> None:
    held = take(store.leases, "a")
    assert held is not None
    store.leases.renew(held, now_ms=2_000, lease_ms=20_000, order_group_id="g1")
    assert store.leases.request_group_reset(KEY, "g0", 5_000) is False
    assert store.leases.request_group_reset(KEY, "g1", 6_000) is True
    record = store.leases.read_one(KEY)
    assert record is not None and record.group_reset_ms == 6_000
