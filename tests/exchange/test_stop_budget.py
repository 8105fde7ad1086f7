"""The client under a stop budget, and cancels whose earlier attempt lost its answer."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import requests
import responses

from dora.core.errors import OutOfTimeError, TransientError
from dora.core.models import CancelStatus
from dora.core.tiers import Bucket, tier_named
from dora.exchange.client import KalshiClient
from dora.exchange.http import DEFAULT_TIMEOUT
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import FakeClock
from dora.runtime.deadline import StopBudget
from tests.exchange import payloads as p
from tests.exchange.conftest import BASE

STATUS_URL = f"{BASE}/exchange/status"
OK_STATUS = {"exchange_active": True, "trading_active": True}
ORDERS_URL = f"{BASE}/portfolio/events/orders"
BATCH_URL = f"{ORDERS_URL}/batched"


class Left:
    """A budget with a fixed time left (None: nothing bounded)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds

    def remaining(self) -> float | None:
        return self.seconds


def timeout_of(call: responses.Call) -> object:
    return call.request.req_kwargs["timeout"]


def test_without_a_stop_every_call_has_the_normal_timeouts(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    client.bound_by(Left(None))
    api.get(STATUS_URL, json=OK_STATUS)
    client.fetch_exchange_status()
    assert timeout_of(api.calls[0]) == DEFAULT_TIMEOUT


def test_under_a_budget_the_timeouts_shrink_to_the_time_left(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    client.bound_by(Left(2.5))
    api.get(STATUS_URL, json=OK_STATUS)
    client.fetch_exchange_status()
    assert timeout_of(api.calls[0]) == (2.5, 2.5)


def test_with_the_budget_spent_nothing_is_sent(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    client.bound_by(Left(0.1))
    api.get(STATUS_URL, json=OK_STATUS)
    with pytest.raises(OutOfTimeError):
        client.fetch_exchange_status()
    assert len(api.calls) == 0


def test_no_retry_starts_that_could_not_finish_in_time(
    api: responses.RequestsMock, make_client: Callable[..., KalshiClient], clock: FakeClock
) -> None:
    stop = threading.Event()
    budget = StopBudget(stop, clock, budget_s=25)
    client = make_client()
    client.bound_by(budget)
    api.get(STATUS_URL, status=503, json=p.error_body("service_unavailable", "down"))
    with pytest.raises(TransientError):
        client.fetch_exchange_status()
    assert len(api.calls) == 5  # no stop requested: the normal retries
    stop.set()
    # room for one attempt, not for a backoff and another
    with budget.step(0.3), pytest.raises(TransientError):
        client.fetch_exchange_status()
    assert len(api.calls) == 6


def test_waiting_for_rate_tokens_never_outlasts_the_budget(clock: FakeClock) -> None:
    limiter = RateLimiter(tier_named("basic"), clock)
    while limiter.headroom(Bucket.WRITE) > 0:
        limiter.acquire(Bucket.WRITE, 10)
    before = clock.now_ms()
    with pytest.raises(OutOfTimeError):
        limiter.acquire(Bucket.WRITE, 10, max_wait_s=0.01)
    assert clock.now_ms() == before  # it did not sleep first
    assert limiter.acquire(Bucket.WRITE, 10, max_wait_s=5) > 0


def test_a_404_after_a_lost_answer_says_so_and_a_plain_404_does_not(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.delete(f"{ORDERS_URL}/o-1", body=requests.exceptions.ReadTimeout("answer lost"))
    api.delete(f"{ORDERS_URL}/o-1", status=404, json=p.error_body("not_found", "gone"))
    api.delete(f"{ORDERS_URL}/o-2", status=404, json=p.error_body("not_found", "gone"))
    first, second = client.cancel_order("o-1"), client.cancel_order("o-2")
    assert (first.status, first.after_lost_answer) == (CancelStatus.NOT_FOUND, True)
    assert (second.status, second.after_lost_answer) == (CancelStatus.NOT_FOUND, False)


def test_a_batch_retried_after_a_lost_answer_marks_only_its_gone_items(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    gone = {**p.item_error("not_found", "gone", order_id="o-1"), "ts_ms": 1_767_225_601_000}
    api.delete(BATCH_URL, status=503, json=p.error_body("service_unavailable", "lost"))
    api.delete(BATCH_URL, json={"orders": [gone, p.cancelled("o-2")]})
    first, second = client.cancel_orders(["o-1", "o-2"])
    assert (first.status, first.after_lost_answer) == (CancelStatus.NOT_FOUND, True)
    assert first.ts_ms == 1_767_225_601_000  # when the exchange said it, even on an error item
    assert (second.status, second.after_lost_answer) == (CancelStatus.CANCELLED, False)
