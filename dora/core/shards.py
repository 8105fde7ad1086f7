"""Which process quotes which market: markets split into shards, one lease per shard. Pure.

A market belongs to the shard its config names (``shard``, 0-based) when that is valid for the
layout, else to a stable hash of its ticker (the same in every process and every version: blake2b,
not Python's salted ``hash``). Each shard has its own lease item (``lease#<index>``) and, when there
is more than one shard, its own state items (``positions#1/3`` ...); a single shard keeps the
predecessor's item names (docs/compatibility.md#state-items).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

MAX_SHARDS = 16  # lease items a process reads to see every layout (docs/architecture.md#shards)


@dataclass(frozen=True, slots=True)
class ShardId:
    index: int  # 0-based
    count: int  # the layout: how many shards the markets are split into

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ValueError(f"shard count must be in 1..{MAX_SHARDS}, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard index {self.index} outside 0..{self.count - 1}")

    @property
    def item_suffix(self) -> str:
        """Appended to each per-shard state item's key: none for a single shard."""
        return "" if self.count == 1 else f"#{self.index}/{self.count}"

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


def lease_key(index: int) -> str:
    if not 0 <= index < MAX_SHARDS:
        raise ValueError(f"shard index {index} outside 0..{MAX_SHARDS - 1}")
    return f"lease#{index}"


def all_lease_keys() -> list[str]:
    return [lease_key(i) for i in range(MAX_SHARDS)]


def hash_shard(ticker: str, count: int) -> int:
    digest = hashlib.blake2b(ticker.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def shard_of(ticker: str, explicit: int | None, count: int) -> int:
    """The configured shard when it exists in this layout, else the ticker's hash."""
    if explicit is not None and 0 <= explicit < count:
        return explicit
    return hash_shard(ticker, count)


class ShardPlan:
    """The markets of one shard, given the markets' explicit ``shard`` fields."""

    def __init__(self, shard: ShardId) -> None:
        self.shard = shard
        self._explicit: dict[str, int] = {}

    def update(self, explicit: Mapping[str, int | None]) -> None:
        """Ticker -> the shard its config names (None: by hash)."""
        self._explicit = {t: s for t, s in explicit.items() if s is not None}

    def owns(self, ticker: str) -> bool:
        return shard_of(ticker, self._explicit.get(ticker), self.shard.count) == self.shard.index

    def misplaced(self) -> dict[str, int]:
        """Markets whose configured shard does not exist in this layout (they fall back to hash)."""
        return {t: s for t, s in self._explicit.items() if not 0 <= s < self.shard.count}
