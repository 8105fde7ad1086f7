"""Token buckets on the injected clock, the jitter reserve, and the 429 backoff."""

from __future__ import annotations

import logging
from fractions import Fraction

import pytest

from dora.core.tiers import Bucket, tier_named
from dora.exchange.ratelimit import RateLimiter, TokenBucket
from dora.exchange.stats import ApiStats, EndpointStats
from dora.runtime.clock import FakeClock


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(tier_named("basic"), clock, reserve_s=0.05)


def test_capacity_is_the_tier_capacity_less_the_jitter_reserve(limiter: RateLimiter) -> None:
    assert limiter.capacity(Bucket.WRITE) == 95  # Basic write: 100 tokens, 100/s, 50 ms reserve
    assert limiter.capacity(Bucket.READ) == 390  # Basic read: 400 tokens, 200/s


def test_a_share_of_the_budget_for_one_of_several_shard_processes(clock: FakeClock) -> None:
    limiter = RateLimiter(tier_named("prestige"), clock, reserve_s=0.05)
    limiter.share(3)
    assert limiter.rate(Bucket.WRITE) == pytest.approx(8000 / 3)
    assert limiter.capacity(Bucket.WRITE) == 16000 // 3 - 134  # less the 50 ms reserve
    small = RateLimiter(tier_named("basic"), clock, reserve_s=0.05)
    small.share(16)
    assert small.capacity(Bucket.WRITE) >= 10  # one order still fits


def test_acquire_takes_immediately_while_tokens_last_then_waits_on_the_clock(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    assert limiter.acquire(Bucket.WRITE, 90) == 0
    start = clock.now_ms()
    waited = limiter.acquire(Bucket.WRITE, 90)  # 5 left, 85 missing at 100/s
    assert waited == pytest.approx(0.85)
    assert clock.now_ms() - start == 850
    assert limiter.acquire(Bucket.READ, 10) == 0  # the read bucket is independent


def test_sustained_rate_equals_the_tier_budget(limiter: RateLimiter, clock: FakeClock) -> None:
    start = clock.now_ms()
    for _ in range(100):
        limiter.acquire(Bucket.WRITE, 90)
    elapsed_s = (clock.now_ms() - start) / 1000
    # 9000 tokens, of which 95 came from the initial bucket: the rest at exactly 100/s
    assert elapsed_s == pytest.approx((9000 - 95) / 100, abs=0.05)


def test_a_request_larger_than_the_bucket_is_refused(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        limiter.acquire(Bucket.WRITE, 100)


def test_headroom_is_a_fraction_of_capacity(limiter: RateLimiter, clock: FakeClock) -> None:
    assert limiter.headroom(Bucket.WRITE) == 1
    limiter.acquire(Bucket.WRITE, 38)
    assert limiter.headroom(Bucket.WRITE) == Fraction(57, 95)
    clock.advance_ms(10_000)
    assert limiter.headroom(Bucket.WRITE) == 1  # never above capacity


def test_429_backoff_doubles_up_to_the_cap_blocks_the_bucket_and_resets_on_success(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RateLimiter(tier_named("basic"), clock, logging.getLogger("t.rl"),
                          backoff_base_s=0.5, backoff_cap_s=3.0)
    backoffs = []
    with caplog.at_level(logging.WARNING, logger="t.rl"):
        for _ in range(5):
            backoffs.append(limiter.on_rate_limited("POST /x", Bucket.WRITE))
            if len(backoffs) < 5:
                clock.advance_ms(round(backoffs[-1] * 1000))  # the retry waited it out
    assert backoffs == [0.5, 1.0, 2.0, 3.0, 3.0]
    events = [(r.event_type, r.consecutive_hits) for r in caplog.records]  # type: ignore[attr-defined]
    assert events[:4] == [("RATE_LIMIT", 1), ("RATE_LIMIT_BACKOFF", 1),
                          ("RATE_LIMIT", 2), ("RATE_LIMIT_BACKOFF", 2)]
    start = clock.now_ms()
    limiter.acquire(Bucket.WRITE, 10)  # blocked for the last backoff, bucket emptied
    assert clock.now_ms() - start >= 3000
    assert limiter.acquire(Bucket.READ, 10) == 0  # the other bucket was not penalised
    limiter.on_success()
    assert limiter.on_rate_limited("POST /x") == 0.5


def test_a_429_during_a_running_backoff_does_not_escalate_it(clock: FakeClock) -> None:
    limiter = RateLimiter(tier_named("basic"), clock)
    assert limiter.on_rate_limited("GET /a", Bucket.READ) == 0.5
    clock.advance_ms(200)
    assert limiter.on_rate_limited("GET /a", Bucket.READ) == pytest.approx(0.3)  # in flight
    assert limiter.consecutive_hits == 1
    clock.advance_ms(300)
    assert limiter.on_rate_limited("GET /a", Bucket.READ) == 1.0
    assert limiter.on_rate_limited("GET /b", Bucket.WRITE) == 2.0  # another bucket: not running


def test_token_bucket_starts_where_told_and_refills_continuously(clock: FakeClock) -> None:
    bucket = TokenBucket(10, 20, clock, initial=5)
    assert bucket.available() == 5
    clock.advance_ms(250)
    assert bucket.available() == pytest.approx(7.5)
    assert bucket.wait_time(10) == pytest.approx(0.25)


def test_stats_since_gives_per_cycle_deltas() -> None:
    stats = ApiStats()
    stats.record("GET /a", tokens=10, latency_ms=5)
    before = stats.snapshot()
    stats.record("GET /a", tokens=10, latency_ms=7, error=True)
    stats.record("DELETE /b", tokens=2, latency_ms=1, not_found=True)
    stats.record("DELETE /b", tokens=0, latency_ms=1, rate_limited=True)
    assert stats.since(before) == {
        "GET /a": EndpointStats(calls=1, tokens=10, errors=1, latency_ms_total=7),
        "DELETE /b": EndpointStats(calls=2, tokens=2, rate_limited=1, not_found=1,
                                   latency_ms_total=2),
    }
    assert stats.totals().calls == 4
