"""Server-side token buckets (docs/kalshi-notes.md#rate-limits): one read and one write bucket per
account, continuous refill on the injected clock, costs from ``dora.core.tiers``. A request (a whole
batch) that does not fit what the bucket holds right now is refused, and takes nothing."""

from __future__ import annotations

import threading

from dora.core.tiers import Bucket, Tier, bucket_for, request_cost
from dora.runtime.clock import Clock

# Tokens are kept in thousandths so refill per elapsed millisecond is an exact integer.
_MILLI = 1000


class ServerBucket:
    """A token bucket that answers yes/no (it never waits). Not thread-safe by itself."""

    def __init__(self, rate_per_s: int, capacity: int, now_ms: int) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._milli_tokens = capacity * _MILLI  # starts full
        self._last_ms = now_ms

    def _refill(self, now_ms: int) -> None:
        elapsed = max(0, now_ms - self._last_ms)
        self._last_ms = max(self._last_ms, now_ms)
        # rate tokens/s == rate milli-tokens/ms
        refilled = self._milli_tokens + elapsed * self.rate_per_s
        self._milli_tokens = min(self.capacity * _MILLI, refilled)

    def try_take(self, cost: int, now_ms: int) -> bool:
        self._refill(now_ms)
        if cost * _MILLI > self._milli_tokens:
            return False
        self._milli_tokens -= cost * _MILLI
        return True

    def available(self, now_ms: int) -> int:
        """Whole tokens available now."""
        self._refill(now_ms)
        return self._milli_tokens // _MILLI


class ServerLimiter:
    """Per-account read/write buckets for one tier. Thread-safe."""

    def __init__(self, tier: Tier, clock: Clock, *, enabled: bool = True) -> None:
        self.tier = tier
        self.enabled = enabled
        self._clock = clock
        self._accounts: dict[str, dict[Bucket, ServerBucket]] = {}
        self._lock = threading.Lock()

    def _now_ms(self) -> int:
        return round(self._clock.monotonic() * 1000)

    def _buckets(self, account: str, now_ms: int) -> dict[Bucket, ServerBucket]:
        found = self._accounts.get(account)
        if found is None:
            found = {
                Bucket.READ: ServerBucket(self.tier.read_rate, self.tier.read_capacity, now_ms),
                Bucket.WRITE: ServerBucket(self.tier.write_rate, self.tier.write_capacity, now_ms),
            }
            self._accounts[account] = found
        return found

    def admit(self, account: str, method: str, template: str, items: int = 1) -> bool:
        """Take the request's cost (all ``items`` of a batch at once) or refuse it whole."""
        if not self.enabled:
            return True
        cost = request_cost(method, template, items)
        bucket = bucket_for(method, template)
        with self._lock:
            now_ms = self._now_ms()
            return self._buckets(account, now_ms)[bucket].try_take(cost, now_ms)

    def available(self, account: str, bucket: Bucket) -> int:
        with self._lock:
            now_ms = self._now_ms()
            return self._buckets(account, now_ms)[bucket].available(now_ms)

    def set_tier(self, tier: Tier) -> None:
        """Switch tiers; buckets restart full at the new capacities."""
        with self._lock:
            self.tier = tier
            self._accounts.clear()
