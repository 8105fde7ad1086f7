from __future__ import annotations

from dora.core.tiers import Bucket, tier_named
from dora.runtime.clock import FakeClock
from dora.sim.http.limits import ServerLimiter

BATCH_CREATE = "/portfolio/events/orders/batched"


def test_write_bucket_starts_full_and_refuses_when_empty() -> None:
    clock = FakeClock()
    limiter = ServerLimiter(tier_named("basic"), clock)  # write: 100/s, capacity 100
    assert all(limiter.admit("u", "POST", "/portfolio/events/orders") for _ in range(10))
    assert not limiter.admit("u", "POST", "/portfolio/events/orders")


def test_refill_is_continuous_on_the_clock() -> None:
    clock = FakeClock()
    limiter = ServerLimiter(tier_named("basic"), clock)
    assert limiter.admit("u", "POST", BATCH_CREATE, items=10)  # 100 tokens
    assert not limiter.admit("u", "POST", "/portfolio/events/orders")
    clock.advance_ms(99)  # 9.9 tokens
    assert not limiter.admit("u", "POST", "/portfolio/events/orders")
    clock.advance_ms(1)  # 10 tokens
    assert limiter.admit("u", "POST", "/portfolio/events/orders")


def test_a_batch_that_does_not_fit_is_refused_whole_and_takes_nothing() -> None:
    clock = FakeClock()
    limiter = ServerLimiter(tier_named("basic"), clock)
    assert not limiter.admit("u", "POST", BATCH_CREATE, items=11)  # 110 > 100 capacity
    assert limiter.available("u", Bucket.WRITE) == 100
    assert limiter.admit("u", "POST", BATCH_CREATE, items=10)


def test_read_and_write_buckets_and_accounts_are_independent() -> None:
    clock = FakeClock()
    limiter = ServerLimiter(tier_named("basic"), clock)  # read capacity 400
    assert limiter.admit("u", "POST", BATCH_CREATE, items=10)
    assert limiter.admit("u", "GET", "/portfolio/orders")
    assert limiter.admit("v", "POST", BATCH_CREATE, items=10)
    assert limiter.available("u", Bucket.READ) == 390


def test_cheap_endpoints_cost_less() -> None:
    clock = FakeClock()
    limiter = ServerLimiter(tier_named("basic"), clock)
    for _ in range(50):  # cancel costs 2
        assert limiter.admit("u", "DELETE", "/portfolio/events/orders/{order_id}")
    assert not limiter.admit("u", "DELETE", "/portfolio/events/orders/{order_id}")


def test_disabled_limiter_admits_everything() -> None:
    limiter = ServerLimiter(tier_named("basic"), FakeClock(), enabled=False)
    assert all(limiter.admit("u", "POST", BATCH_CREATE, items=50) for _ in range(10))
