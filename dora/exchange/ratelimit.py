"""Client-side token buckets mirroring Kalshi's (docs/kalshi-notes.md#rate-limits), so dora waits
instead of being told 429.

Design choice — the reserve: the exchange debits a request when it *arrives*, the client when it
*sends*. Network jitter can make two requests arrive closer together than they were sent, so a
client bucket that runs exactly in step with the server's would draw occasional 429s in steady
state. Each client bucket is therefore capped ``reserve_s`` seconds of refill below the tier's
capacity: it can never hold more than the server's bucket minus that reserve, which absorbs up to
``reserve_s`` of arrival jitter. Throughput is unaffected (the refill rate is the tier's), only the
largest single request shrinks (Basic write: 95 usable tokens, so 9 creates per batch, not 10).

On a 429 anyway the bucket is emptied (the exchange has just said ours is) and blocked for an
exponential, capped backoff; a success resets the backoff.
"""

from __future__ import annotations

import logging
import math
import threading
from fractions import Fraction

from dora.core.errors import OutOfTimeError
from dora.core.tiers import DEFAULT_COST, Bucket, Tier
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event

_MIN_SLEEP_S = 0.001
_TOKEN_EPSILON = 1e-3


class TokenBucket:
    """Continuous refill at ``rate`` tokens/s up to ``capacity``; time from the injected clock."""

    def __init__(
        self, rate: float, capacity: int, clock: Clock, *, initial: float | None = None
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError(f"rate and capacity must be positive ({rate=}, {capacity=})")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity if initial is None else min(initial, capacity))
        self._stamp = clock.monotonic()
        self._blocked_until = self._stamp

    def available(self) -> float:
        self._refill()
        return self._tokens

    def wait_time(self, cost: int) -> float:
        """Seconds until ``cost`` tokens can be taken (0 when they can be taken now)."""
        self._refill()
        blocked = max(self._blocked_until - self._stamp, 0.0)
        missing = cost - self._tokens
        if missing <= _TOKEN_EPSILON:  # float noise from differencing large clock readings
            missing = 0.0
        return max(blocked, missing / self.rate)

    def take(self, cost: int) -> None:
        self._refill()
        self._tokens -= cost

    def blocked_for(self) -> float:
        """Seconds left of a backoff block (0 when none is running)."""
        self._refill()
        return max(self._blocked_until - self._stamp, 0.0)

    def drain_and_block(self, seconds: float) -> None:
        self._refill()
        self._tokens = 0.0
        self._blocked_until = max(self._blocked_until, self._stamp + seconds)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(float(self.capacity), self._tokens + elapsed * self.rate)
            self._stamp = now


class RateLimiter:
    """Read and write buckets for one tier, shared by every call of a client (thread-safe)."""

    def __init__(
        self, tier: Tier, clock: Clock, logger: logging.Logger | None = None, *,
        reserve_s: float = 0.05, backoff_base_s: float = 0.5, backoff_cap_s: float = 8.0,
    ) -> None:
        if reserve_s < 0 or backoff_base_s <= 0 or backoff_cap_s < backoff_base_s:
            raise ValueError("reserve_s >= 0 and 0 < backoff_base_s <= backoff_cap_s required")
        self.tier = tier
        self._clock = clock
        self._log = logger or logging.getLogger("dora.ratelimit")
        self._lock = threading.Lock()
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._consecutive_hits = 0
        self._reserve_s = reserve_s
        self.parts = 1
        self._buckets = _buckets(tier, 1, reserve_s, clock)

    def share(self, parts: int) -> None:
        """Use 1/``parts`` of the tier's budget (rate and burst): one of ``parts`` processes
        sharing the account (docs/architecture.md#shards)."""
        if parts < 1:
            raise ValueError(f"parts must be >= 1, got {parts}")
        with self._lock:
            self.parts = parts
            self._buckets = _buckets(self.tier, parts, self._reserve_s, self._clock)

    def acquire(self, bucket: Bucket, cost: int, *, max_wait_s: float | None = None) -> float:
        """Take ``cost`` tokens, sleeping on the clock until they exist; returns seconds slept.
        Raises OutOfTimeError, taking nothing, when that would mean waiting past ``max_wait_s``."""
        target = self._buckets[bucket]
        if cost > target.capacity:
            raise ValueError(f"cost {cost} exceeds the {bucket} bucket's usable {target.capacity}")
        waited = 0.0
        while True:
            with self._lock:
                wait = target.wait_time(cost)
                if wait <= 0:
                    target.take(cost)
                    return waited
            if max_wait_s is not None and waited + wait > max_wait_s:
                raise OutOfTimeError(f"{bucket} tokens need {wait:.3f}s more; the stop budget "
                                     f"leaves {max_wait_s - waited:.3f}s")
            # Whole milliseconds, rounded up (less a float-noise epsilon), so FakeClock advances.
            wait = max(math.ceil(wait * 1000 - 1e-6) / 1000, _MIN_SLEEP_S)
            self._clock.sleep(wait)
            waited += wait

    def capacity(self, bucket: Bucket) -> int:
        """The most tokens one request may cost (the tier's capacity less the reserve)."""
        return self._buckets[bucket].capacity

    def rate(self, bucket: Bucket) -> float:
        return self._buckets[bucket].rate

    def available(self, bucket: Bucket) -> int:
        """Whole tokens ``bucket`` holds now (0 while a 429 backoff has it blocked)."""
        target = self._buckets[bucket]
        with self._lock:
            if target.blocked_for() > 0:
                return 0
            return max(math.floor(target.available() + _TOKEN_EPSILON), 0)

    def headroom(self, bucket: Bucket) -> Fraction:
        target = self._buckets[bucket]
        with self._lock:
            available = max(target.available(), 0.0)
        return Fraction(math.floor(available * 1000), target.capacity * 1000)

    @property
    def consecutive_hits(self) -> int:
        return self._consecutive_hits

    def on_rate_limited(self, endpoint: str, bucket: Bucket | None = None) -> float:
        """The exchange said 429: back off exponentially (capped). Returns the backoff in seconds.

        The backoff is enforced by the next ``acquire`` on ``bucket`` (all buckets when None).
        A 429 that arrives while a backoff is already running (a request sent before it began,
        from another thread) does not escalate it."""
        with self._lock:
            targets = [t for name, t in self._buckets.items() if bucket is None or name is bucket]
            running = max(t.blocked_for() for t in targets)
            if running <= 0:
                self._consecutive_hits += 1
            hits = self._consecutive_hits
            backoff = running if running > 0 else min(
                self._backoff_base_s * float(2 ** (hits - 1)), self._backoff_cap_s)
            for target in targets:
                target.drain_and_block(backoff)
        fields = {"consecutive_hits": hits, "backoff_s": backoff, "endpoint": endpoint,
                  "status_code": 429, "error_type": "RateLimitedError",
                  "bucket": str(bucket) if bucket is not None else "all"}
        log_event(self._log, EventType.RATE_LIMIT,
                  f"rate limited (429) on {endpoint}, hit {hits} in a row",
                  level=logging.WARNING, **fields)
        if running <= 0:
            log_event(self._log, EventType.RATE_LIMIT_BACKOFF,
                      f"backing off {backoff:.3f}s after 429 on {endpoint}",
                      level=logging.WARNING, **fields)
        return backoff

    def on_success(self) -> None:
        with self._lock:
            self._consecutive_hits = 0


def _buckets(tier: Tier, parts: int, reserve_s: float, clock: Clock) -> dict[Bucket, TokenBucket]:
    return {
        Bucket.READ: _capped_bucket(tier.read_rate / parts, _share(tier.read_capacity, parts),
                                    reserve_s, clock),
        Bucket.WRITE: _capped_bucket(tier.write_rate / parts, _share(tier.write_capacity, parts),
                                     reserve_s, clock),
    }


def _share(capacity: int, parts: int) -> int:
    """A share of the burst, never less than two default-cost requests (one order must fit)."""
    return max(capacity // parts, min(capacity, 2 * DEFAULT_COST + 1))


def _capped_bucket(rate: float, capacity: int, reserve_s: float, clock: Clock) -> TokenBucket:
    reserve = math.ceil(rate * reserve_s)
    usable = capacity - reserve
    if usable <= 0:
        raise ValueError(f"reserve of {reserve} tokens leaves nothing of capacity {capacity}")
    return TokenBucket(rate, usable, clock)
