"""The physical floor of one cycle, for ``dora bench``: no client could finish it faster.

Two bounds, and the floor is the larger:

- latency: the round trips that must follow one another, times the round-trip latency. A cycle's
  reads need nothing from each other, except a paged listing's next page, which needs the cursor
  of the page before: the longest paged read sets the reads' depth. The cancels (and decreases)
  must all be answered before the first place goes out (dora's safety rule): one round trip each
  for the cancels and the places. Everything else (several books requests, the batches of one
  list, expiry renewals) can go out beside them.
- tokens: what the cycle was billed beyond what each token bucket held when it began, at the
  bucket's refill rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dora.core.tiers import Bucket, bucket_for
from dora.exchange import endpoints as ep
from dora.exchange.stats import EndpointStats

PAGED_READS = (ep.ORDERS, ep.FILLS, ep.POSITIONS, ep.SETTLEMENTS)
CANCELS = (ep.BATCH_CANCEL, ep.CANCEL_ORDER, ep.DECREASE_ORDER)
PLACES = (ep.BATCH_CREATE, ep.CREATE_ORDER)


@dataclass(frozen=True, slots=True)
class Floor:
    round_trips: int
    latency_ms: int
    write_wait_ms: float
    read_wait_ms: float

    @property
    def ms(self) -> float:
        return max(self.round_trips * self.latency_ms, self.write_wait_ms, self.read_wait_ms)


@dataclass(frozen=True, slots=True)
class Buckets:
    """Tokens each bucket held as a cycle began, and its refill rate (tokens a second)."""

    write_held: float
    write_rate: float
    read_held: float
    read_rate: float


def cycle_floor(delta: Mapping[str, EndpointStats], latency_ms: int, buckets: Buckets) -> Floor:
    """The floor of a cycle whose requests were ``delta`` (per endpoint key)."""
    def calls(*endpoints: ep.Endpoint) -> int:
        return sum(delta[e.key].calls for e in endpoints if e.key in delta)

    reads = sum(s.calls for k, s in delta.items() if _bucket(k) is Bucket.READ)
    depth = max([1 if reads else 0, *(calls(e) for e in PAGED_READS)])
    trips = depth + (1 if calls(*CANCELS) else 0) + (1 if calls(*PLACES) else 0)
    billed = {bucket: sum(s.tokens for k, s in delta.items() if _bucket(k) is bucket)
              for bucket in Bucket}
    return Floor(
        round_trips=trips, latency_ms=latency_ms,
        write_wait_ms=_wait_ms(billed[Bucket.WRITE], buckets.write_held, buckets.write_rate),
        read_wait_ms=_wait_ms(billed[Bucket.READ], buckets.read_held, buckets.read_rate),
    )


def _bucket(key: str) -> Bucket:
    method, _, template = key.partition(" ")
    return bucket_for(method, template)


def _wait_ms(billed: int, held: float, rate: float) -> float:
    return max(0.0, billed - held) / rate * 1000
