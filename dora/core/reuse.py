"""Per-market reuse of last cycle's results whose inputs did not change. Pure.

The loop computes the same things for every market every cycle (a strategy's decision, the exit
policy's intent, the book without dora's own orders); most markets' inputs did not change since
the last cycle, and every one of those functions is pure. :class:`ReuseCache` keeps, per market,
the last result, the key it was computed from and the span of time it holds for:

- the key is every input but the time, compared by value (``==``: a key that compares equal
  gives an equal result);
- the time is the one input that always changes, so whoever computes a result also says until
  when it holds as the clock moves (``until_ms``, exclusive; None: for good). A result is served
  only for an equal key at a time from when it was computed up to that limit: a clock that steps
  back recomputes;
- one entry per market, and :meth:`ReuseCache.retain` drops the markets a cycle no longer looks
  at, so the cache never outgrows the markets.

docs/architecture.md#reuse has the keys the loop uses and why they are complete.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Generic, NamedTuple, TypeVar

from dora.core.models import TsMs

V = TypeVar("V")


class Reused(NamedTuple, Generic[V]):
    """A result and what it holds for: an equal ``key`` at a time in [since_ms, until_ms).
    (A named tuple: one is made per market and cycle whenever something changed.)"""

    key: object
    value: V
    since_ms: TsMs
    until_ms: TsMs | None

    def holds(self, key: object, now_ms: TsMs) -> bool:
        until = self.until_ms
        return (self.since_ms <= now_ms and (until is None or now_ms < until)
                and (self.key is key or self.key == key))


class ReuseCache(Generic[V]):
    def __init__(self) -> None:
        self._entries: dict[str, Reused[V]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, market: str, key: object, now_ms: TsMs) -> Reused[V] | None:
        """The market's last result when it holds for ``key`` at ``now_ms``, else None."""
        entry = self._entries.get(market)
        if entry is not None and entry.holds(key, now_ms):
            self.hits += 1
            return entry
        self.misses += 1
        return None

    def put(self, market: str, key: object, value: V, now_ms: TsMs,
            until_ms: TsMs | None) -> V:
        """Remember ``value`` for ``key`` from ``now_ms`` until ``until_ms``; returns it."""
        self._entries[market] = Reused(key, value, now_ms, until_ms)
        return value

    def forget(self, market: str) -> None:
        self._entries.pop(market, None)

    def retain(self, markets: Collection[str]) -> None:
        """Keep only these markets' entries."""
        for market in [m for m in self._entries if m not in markets]:
            del self._entries[market]

    def __len__(self) -> int:
        return len(self._entries)

    def take_counts(self) -> tuple[int, int]:
        """Hits and misses since the last call."""
        counts = (self.hits, self.misses)
        self.hits = self.misses = 0
        return counts
