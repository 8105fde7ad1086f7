"""The renewal call (an expiry-only amend): its exact body, and how each answer is classed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from dora.core.errors import FatalError
from dora.core.models import RenewStatus
from dora.core.tiers import Bucket
from dora.exchange.client import KalshiClient
from dora.exchange.wire_reads import parse_order
from tests.exchange import payloads as p
from tests.exchange.conftest import BASE

AMEND_URL = f"{BASE}/portfolio/events/orders/o-2/amend"
EXPIRES_S = 1_767_226_500


def partly_filled() -> Any:
    return parse_order({**p.order("o-2", "dora-2", remaining="6.00", filled="4.00"),
                        "expiration_time": "2026-01-01T00:10:00Z"})


def test_the_listing_carries_the_expiry() -> None:
    assert partly_filled().expires_ms == 1_767_226_200_000
    assert parse_order(p.order("o-3", "dora-3")).expires_ms == 0


def test_a_renewal_restates_price_and_total_and_sends_only_the_new_expiry(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.post(AMEND_URL, json={"order_id": "o-2", "client_order_id": "dora-2",
                              "remaining_count": "6.00", "fill_count": "4.00", "ts_ms": 77})
    result = client.renew_order(partly_filled(), EXPIRES_S)
    assert json.loads(api.calls[0].request.body) == {
        "ticker": "MKT-A", "side": "bid", "price": "0.4200", "count": "10.00",
        "client_order_id": "dora-2", "expiration_time": EXPIRES_S}
    assert (result.status, result.order_id, result.expires_ms, result.ts_ms) == (
        RenewStatus.RENEWED, "o-2", EXPIRES_S * 1000, 77)


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ({"status": 404, "json": {"error": {"code": "not_found", "message": "gone"}}},
         RenewStatus.NOT_FOUND, "not_found"),
        ({"status": 409, "json": {"error": {"code": "market_closed", "message": "closed"}}},
         RenewStatus.CONFLICT, "market_closed"),
        ({"status": 400, "json": {"error": {"code": "invalid_parameters", "message": "no"}}},
         RenewStatus.REJECTED, "invalid_parameters"),
        ({"status": 410, "json": {"error": {"code": "gone", "message": "retired"}}},
         RenewStatus.UNSUPPORTED, "http_410"),
        ({"status": 405, "json": {"error": {"code": "method_not_allowed", "message": ""}}},
         RenewStatus.UNSUPPORTED, "http_405"),
        ({"status": 501, "json": {"error": {"code": "not_implemented", "message": ""}}},
         RenewStatus.UNSUPPORTED, "http_501"),
        ({"status": 503, "json": {"error": {"code": "unavailable", "message": ""}}},
         RenewStatus.UNKNOWN, "outcome_unknown"),
        ({"status": 200, "body": "not json"}, RenewStatus.UNKNOWN, "unreadable_response"),
        ({"body": requests.ReadTimeout("slow")}, RenewStatus.UNKNOWN, "outcome_unknown"),
        ({"body": requests.ConnectTimeout("no route")}, RenewStatus.NOT_SENT, "transient"),
        ({"status": 429, "json": {"error": "too many requests"}},
         RenewStatus.NOT_SENT, "rate_limited"),
    ],
)
def test_each_answer_is_classed_and_sent_once(
    api: responses.RequestsMock, client: KalshiClient, answer: dict[str, Any],
    status: RenewStatus, code: str,
) -> None:
    api.post(AMEND_URL, **answer)
    result = client.renew_order(partly_filled(), EXPIRES_S)
    assert (result.status, result.error_code) == (status, code)
    assert len(api.calls) == 1  # never repeated: a lost answer is the overlay's to handle


@pytest.mark.parametrize("http_status", [401, 403])
def test_bad_credentials_stay_fatal(
    api: responses.RequestsMock, client: KalshiClient, http_status: int
) -> None:
    api.post(AMEND_URL, status=http_status, json={"error": {"code": "unauthorized"}})
    with pytest.raises(FatalError):
        client.renew_order(partly_filled(), EXPIRES_S)


def test_spare_write_tokens_counts_what_the_bucket_holds(client: KalshiClient) -> None:
    full = client.spare_write_tokens()
    assert full == client.limiter.capacity(Bucket.WRITE)
    client.limiter.acquire(Bucket.WRITE, 30)
    assert client.spare_write_tokens() == full - 30
    client.limiter.on_rate_limited("POST /x", Bucket.WRITE)
    assert client.spare_write_tokens() == 0  # blocked by a 429 backoff: nothing is spare
