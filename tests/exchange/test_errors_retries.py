"""Error mapping at the HTTP boundary, retries (on the injected clock) and the 429 backoff."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import requests
import responses

from dora.core.errors import (
    DoraError,
    FatalError,
    NotFoundError,
    OrderRejectedError,
    OutcomeUnknownError,
    RateLimitedError,
    TransientError,
)
from dora.exchange.client import KalshiClient
from dora.exchange.wire import WireFormatError
from dora.runtime.clock import FakeClock
from tests.exchange import payloads as p
from tests.exchange.conftest import BASE

STATUS_URL = f"{BASE}/exchange/status"
OK_STATUS = {"exchange_active": True, "trading_active": True}


@pytest.mark.parametrize(("status", "expected", "attempts"), [
    (401, FatalError, 1),
    (403, FatalError, 1),
    (410, FatalError, 1),
    (400, OrderRejectedError, 1),
    (409, OrderRejectedError, 1),
    (404, NotFoundError, 1),
    (500, TransientError, 5),
    (503, TransientError, 5),
    (429, RateLimitedError, 5),
])
def test_http_statuses_map_to_the_taxonomy_and_only_transient_ones_are_retried(
    api: responses.RequestsMock, client: KalshiClient, status: int,
    expected: type[DoraError], attempts: int,
) -> None:
    api.get(STATUS_URL, status=status, json=p.error_body("some_code", "some message"))
    with pytest.raises(expected) as caught:
        client.fetch_exchange_status()
    assert len(api.calls) == attempts
    if expected is OrderRejectedError:
        assert isinstance(caught.value, OrderRejectedError)
        assert (caught.value.code, caught.value.status) == ("some_code", status)


@pytest.mark.parametrize("failure", [
    requests.exceptions.ConnectTimeout("connect timed out"),
    requests.exceptions.ReadTimeout("read timed out"),
    requests.exceptions.ConnectionError("reset"),
])
def test_network_failures_on_reads_are_retried_then_raise_transient(
    api: responses.RequestsMock, client: KalshiClient, failure: Exception
) -> None:
    api.get(STATUS_URL, body=failure)
    with pytest.raises(TransientError):
        client.fetch_exchange_status()
    assert len(api.calls) == 5
    assert client.stats.snapshot()["GET /exchange/status"].errors == 5


def test_a_read_timeout_is_an_unknown_outcome_but_a_failed_connect_is_not(
    api: responses.RequestsMock, make_client: Callable[..., KalshiClient]
) -> None:
    client = make_client(max_attempts=1)
    api.get(STATUS_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknownError):
        client.fetch_exchange_status()
    api.replace(responses.GET, STATUS_URL, body=requests.exceptions.ConnectTimeout("no"))
    with pytest.raises(TransientError) as caught:
        client.fetch_exchange_status()
    assert not isinstance(caught.value, OutcomeUnknownError)


def test_5xx_then_success_returns_the_answer_after_sleeping_on_the_clock(
    api: responses.RequestsMock, client: KalshiClient, clock: FakeClock
) -> None:
    api.get(STATUS_URL, status=502, body="bad gateway")
    api.get(STATUS_URL, status=500, json=p.error_body("internal", "x"))
    api.get(STATUS_URL, json=OK_STATUS)
    assert client.fetch_exchange_status().trading_active
    retry_sleeps = [s for s in clock.slept if s > 0]
    assert len(retry_sleeps) == 2
    assert all(0 < s <= 4.0 for s in retry_sleeps)
    stats = client.stats.snapshot()["GET /exchange/status"]
    assert (stats.calls, stats.errors) == (3, 2)


def test_a_429_storm_backs_off_exponentially_then_succeeds_and_is_logged(
    api: responses.RequestsMock, client: KalshiClient, clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for _ in range(3):
        api.get(STATUS_URL, status=429, json={"error": "too many requests"})
    api.get(STATUS_URL, json=OK_STATUS)
    start = clock.now_ms()
    with caplog.at_level(logging.WARNING, logger="dora.ratelimit"):
        assert client.fetch_exchange_status().exchange_active
    assert clock.now_ms() - start >= (500 + 1000 + 2000)  # 0.5 s, 1 s, 2 s backoffs waited
    limit_events = [r for r in caplog.records if getattr(r, "event_type", "") == "RATE_LIMIT"]
    backoffs = [r for r in caplog.records if getattr(r, "event_type", "") == "RATE_LIMIT_BACKOFF"]
    assert [r.consecutive_hits for r in limit_events] == [1, 2, 3]  # type: ignore[attr-defined]
    assert [r.backoff_s for r in backoffs] == [0.5, 1.0, 2.0]  # type: ignore[attr-defined]
    assert {r.endpoint for r in backoffs} == {"GET /exchange/status"}  # type: ignore[attr-defined]
    assert client.limiter.consecutive_hits == 0  # the success reset it
    stats = client.stats.snapshot()["GET /exchange/status"]
    assert (stats.calls, stats.rate_limited, stats.tokens) == (4, 3, 10)


def test_a_malformed_success_body_is_a_wire_format_error_naming_the_field(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.get(STATUS_URL, json={"exchange_active": True})
    with pytest.raises(WireFormatError, match="trading_active"):
        client.fetch_exchange_status()
    assert len(api.calls) == 1


def test_a_paging_loop_is_detected(api: responses.RequestsMock, client: KalshiClient) -> None:
    api.get(f"{BASE}/portfolio/fills", json={"fills": [], "cursor": "same"})
    with pytest.raises(WireFormatError, match="repeated"):
        client.fetch_fills(since_ms=0)
