"""Exact HTTP shapes of the client against hand-written Kalshi payloads (`responses`)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from dora.core.errors import NotFoundError
from dora.core.models import (
    CancelStatus,
    Level,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    PlaceStatus,
    PriceRange,
    Side,
    TimeInForce,
)
from dora.core.tiers import Bucket
from dora.exchange.client import KalshiClient
from dora.exchange.wire_reads import parse_order
from dora.runtime.clock import FakeClock
from tests.exchange import payloads as p
from tests.exchange.conftest import BASE

ORDERS_URL = f"{BASE}/portfolio/events/orders"
BATCH_URL = f"{BASE}/portfolio/events/orders/batched"


def req(n: int, ticker: str = "MKT-A", **kwargs: Any) -> OrderRequest:
    return OrderRequest(ticker, Side.BID, 4200 + 100 * (n % 10), 1000,
                        client_order_id=f"dora-{n}", **kwargs)


def body_of(call: Any) -> Any:
    return json.loads(call.request.body)


def query_of(call: Any) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(call.request.url).query)


def calls_to(api: responses.RequestsMock, method: str, url: str) -> list[Any]:
    return [c for c in api.calls
            if c.request.method == method and c.request.url.split("?")[0] == url]


# ---- signing ------------------------------------------------------------------------------------

def test_every_request_is_signed_over_timestamp_method_and_path_without_query(
    api: responses.RequestsMock, client: KalshiClient, rsa_key: rsa.RSAPrivateKey,
    clock: FakeClock,
) -> None:
    api.get(f"{BASE}/portfolio/orders", json={"orders": [], "cursor": ""})
    client.fetch_orders(ticker="MKT-A", status=OrderStatus.RESTING)
    request = api.calls[0].request
    assert request.headers["KALSHI-ACCESS-KEY"] == "key-123"
    ts = request.headers["KALSHI-ACCESS-TIMESTAMP"]
    assert ts == str(clock.now_ms())
    message = f"{ts}GET/trade-api/v2/portfolio/orders".encode()
    signature = base64.b64decode(request.headers["KALSHI-ACCESS-SIGNATURE"])
    rsa_key.public_key().verify(  # raises InvalidSignature if wrong
        signature, message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256(),
    )
    assert "?" in request.url  # the query exists, and was not signed


def test_each_retry_attempt_is_signed_afresh(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.get(f"{BASE}/portfolio/balance", status=503, json=p.error_body("unavailable", "x"))
    api.get(f"{BASE}/portfolio/balance", json={
        "balance": 100, "balance_dollars": "1.0000", "portfolio_value": 0, "updated_ts": 1})
    client.fetch_balance()
    stamps = [c.request.headers["KALSHI-ACCESS-TIMESTAMP"] for c in api.calls]
    assert len(stamps) == 2 and stamps[0] != stamps[1]


# ---- order entry shapes -------------------------------------------------------------------------

def test_single_create_sends_the_v2_body_and_parses_the_201(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.post(ORDERS_URL, status=201, json=p.created("o-1", "dora-1", filled="2.00",
                                                    remaining="8.00"))
    request = req(1, expiration_s=1_767_300_000, order_group_id="g-1")
    result = client.place_order(request)
    assert body_of(api.calls[0]) == {
        "ticker": "MKT-A", "side": "bid", "count": "10.00", "price": "0.4300",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross",
        "post_only": True, "reduce_only": False, "cancel_order_on_pause": True,
        "client_order_id": "dora-1", "expiration_time": 1_767_300_000, "order_group_id": "g-1",
    }
    assert (result.status, result.order_id, result.filled, result.remaining) == (
        PlaceStatus.PLACED, "o-1", 200, 800)


def test_single_create_rejection_is_data_with_the_exchange_code(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.post(ORDERS_URL, status=409, json=p.error_body("market_closed", "market is closed"))
    result = client.place_order(req(1, time_in_force=TimeInForce.IOC, post_only=False))
    assert (result.status, result.error_code, result.error_message) == (
        PlaceStatus.REJECTED, "market_closed", "market is closed")


def test_batch_create_splits_by_what_the_write_bucket_holds_and_maps_by_client_order_id(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        sent = json.loads(request.body)["orders"]
        items = [p.created(f"o-{o['client_order_id']}", o["client_order_id"]) for o in sent]
        return 201, {}, json.dumps({"orders": list(reversed(items))})  # order must not matter

    api.add_callback(responses.POST, BATCH_URL, callback=answer)
    requests_ = [req(n) for n in range(25)]
    results = client.place_orders(requests_)
    per_batch = client.batch_size(Bucket.WRITE, 10)
    assert per_batch == 9  # Basic write: 100 tokens less the 5-token jitter reserve, 10 per create
    # the batches go out together: in any order
    assert sorted(len(body_of(c)["orders"]) for c in api.calls) == [7, 9, 9]
    assert [r.request for r in results] == requests_
    assert [r.order_id for r in results] == [f"o-dora-{n}" for n in range(25)]
    assert client.stats.snapshot()["POST /portfolio/events/orders/batched"].tokens == 250


def test_batch_size_honours_the_configured_maximum(
    make_client: Callable[..., KalshiClient],
) -> None:
    assert make_client(max_batch=20).batch_size(Bucket.WRITE, 2) == 20  # cancels: 47 would fit
    assert make_client(max_batch=5).batch_size(Bucket.WRITE, 10) == 5
    assert make_client("advanced").batch_size(Bucket.WRITE, 10) == 20


def test_partial_batch_failure_is_per_order_data(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.post(BATCH_URL, status=201, json={"orders": [
        p.item_error("invalid_price", "price not on tick grid", client_order_id="dora-2"),
        p.created("o-1", "dora-1"),
    ]})
    results = client.place_orders([req(1), req(2), req(3)])
    assert [r.status for r in results] == [
        PlaceStatus.PLACED, PlaceStatus.REJECTED, PlaceStatus.UNKNOWN]  # dora-3 not mentioned
    assert (results[1].error_code, results[1].error_message) == (
        "invalid_price", "price not on tick grid")


@pytest.mark.parametrize("failure", [
    requests.exceptions.ReadTimeout("read timed out"),
    requests.exceptions.ConnectionError("connection reset by peer"),
])
def test_a_create_whose_answer_is_lost_is_unknown_and_never_resent(
    api: responses.RequestsMock, client: KalshiClient, failure: Exception
) -> None:
    api.post(BATCH_URL, body=failure)
    api.post(ORDERS_URL, body=failure)
    batch = client.place_orders([req(1), req(2)])
    single = client.place_order(req(3))
    assert [r.status for r in [*batch, single]] == [PlaceStatus.UNKNOWN] * 3
    assert len(calls_to(api, "POST", BATCH_URL)) == 1
    assert len(calls_to(api, "POST", ORDERS_URL)) == 1


def test_an_accepted_create_with_an_unreadable_body_is_unknown_not_an_exception(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.post(BATCH_URL, status=201, body="<html>oops</html>")
    api.post(ORDERS_URL, status=201, body="<html>oops</html>")
    results = [*client.place_orders([req(1), req(2)]), client.place_order(req(3))]
    assert [(r.status, r.error_code) for r in results] == [
        (PlaceStatus.UNKNOWN, "unreadable_response")] * 3
    assert len(api.calls) == 2


def test_a_5xx_on_a_batch_create_makes_every_order_in_it_unknown_with_one_post(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.post(BATCH_URL, status=500, json=p.error_body("internal", "boom"))
    results = client.place_orders([req(1), req(2)])
    assert {r.status for r in results} == {PlaceStatus.UNKNOWN}
    assert len(api.calls) == 1


def test_a_create_refused_with_429_is_rejected_not_resent_and_slows_the_next_write(
    api: responses.RequestsMock, client: KalshiClient, clock: FakeClock
) -> None:
    api.post(BATCH_URL, status=429, json={"error": "too many requests"})
    api.post(BATCH_URL, status=201, json={"orders": [p.created("o-2", "dora-2")]})
    first = client.place_orders([req(1)])
    start = clock.now_ms()
    second = client.place_orders([req(2)])
    assert (first[0].status, first[0].error_code) == (PlaceStatus.REJECTED, "rate_limited")
    assert second[0].status is PlaceStatus.PLACED
    assert clock.now_ms() - start >= 500  # the limiter's backoff after the 429
    assert len(api.calls) == 2


def test_create_batches_the_held_tokens_do_not_cover_wait_for_the_answers_before_them(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    """Basic write holds 95 tokens, one batch of 9 creates costs 90: the second batch is sent
    only after the first has answered (a wave each), never beside it while it waits for tokens,
    so it cannot reach the exchange before the batch whose tokens were taken first."""
    lock = threading.Lock()
    in_flight: list[int] = [0]
    most: list[int] = [0]

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)  # real time: a batch sent beside this one would overlap it
        with lock:
            in_flight[0] -= 1
        sent = json.loads(request.body)["orders"]
        items = [p.created(f"o-{o['client_order_id']}", o["client_order_id"]) for o in sent]
        return 201, {}, json.dumps({"orders": items})

    api.add_callback(responses.POST, BATCH_URL, callback=answer)
    results = client.place_orders([req(n) for n in range(25)])
    assert {r.status for r in results} == {PlaceStatus.PLACED}
    assert len(api.calls) == 3
    assert most[0] == 1


def test_after_a_create_batch_is_refused_with_429_the_rest_of_the_list_is_not_sent(
    api: responses.RequestsMock, make_client: Callable[..., KalshiClient]
) -> None:
    """One create per batch: the 95 tokens held pay for a first wave of 9 batches, sent
    together; each is refused, and a batch of the list that has not gone out by the first
    refusal (at least the 16 of the later waves) is reported refused without being sent, not
    unknown and not sent again after the backoff."""
    client = make_client(max_batch=1)
    api.post(BATCH_URL, status=429, json={"error": "too many requests"})
    results = client.place_orders([req(n) for n in range(25)])
    sent = len(api.calls)
    assert 1 <= sent <= 9
    assert {(r.status, r.error_code) for r in results} == {(PlaceStatus.REJECTED, "rate_limited")}
    assert sum(r.error_message.startswith("not sent") for r in results) == 25 - sent


def test_batch_cancel_splits_maps_by_order_id_and_reports_already_gone_as_not_found(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        ids = [o["order_id"] for o in json.loads(request.body)["orders"]]
        items = [p.item_error("not_found", "order not found", order_id=i) if i == "o-3"
                 else p.cancelled(i) for i in ids]
        return 200, {}, json.dumps({"orders": items[::-1]})

    api.add_callback(responses.DELETE, BATCH_URL, callback=answer)
    ids = [f"o-{n}" for n in range(25)]
    results = client.cancel_orders(ids)
    # the two batches go out together: they may arrive in either order
    sent = sorted((body_of(c) for c in api.calls), key=lambda body: -len(body["orders"]))
    assert [len(body["orders"]) for body in sent] == [20, 5]
    assert sent[1] == {"orders": [{"order_id": f"o-{n}"} for n in range(20, 25)]}
    assert [r.order_id for r in results] == ids
    assert results[3].status is CancelStatus.NOT_FOUND
    assert {r.status for i, r in enumerate(results) if i != 3} == {CancelStatus.CANCELLED}
    assert results[0].reduced_by == 1000


def test_cancel_of_an_already_filled_order_answers_404_and_is_not_found(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.delete(f"{ORDERS_URL}/o-9", status=404, json=p.error_body("not_found", "no such order"))
    result = client.cancel_order("o-9")
    assert result.status is CancelStatus.NOT_FOUND
    assert len(api.calls) == 1  # a 404 is an answer, not retried
    assert client.stats.snapshot()["DELETE /portfolio/events/orders/{order_id}"].not_found == 1


def test_a_cancel_is_retried_after_a_5xx_and_then_succeeds(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.delete(f"{ORDERS_URL}/o-1", status=503, json=p.error_body("service_unavailable", "x"))
    api.delete(f"{ORDERS_URL}/o-1", json=p.cancelled("o-1", "4.00"))
    result = client.cancel_order("o-1")
    assert (result.status, result.reduced_by) == (CancelStatus.CANCELLED, 400)
    assert len(api.calls) == 2


def test_a_batch_cancel_that_keeps_failing_reports_failed_per_order(
    api: responses.RequestsMock, make_client: Callable[..., KalshiClient]
) -> None:
    client = make_client(max_attempts=3)
    api.delete(BATCH_URL, body=requests.exceptions.ReadTimeout("timed out"))
    results = client.cancel_orders(["o-1", "o-2"])
    assert [(r.status, r.error_code) for r in results] == [
        (CancelStatus.FAILED, "outcome_unknown")] * 2
    assert len(api.calls) == 3


def test_decrease_amend_and_cancel_all_shapes(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.post(f"{ORDERS_URL}/o-1/decrease", json={
        "order_id": "o-1", "client_order_id": "c", "remaining_count": "3.00", "ts_ms": 5})
    api.post(f"{ORDERS_URL}/o-2/amend", json={
        "order_id": "o-2", "client_order_id": "dora-2", "remaining_count": "6.00",
        "fill_count": "1.00", "ts_ms": 6})
    api.delete(ORDERS_URL, status=204)
    decreased = client.decrease_order("o-1", 300)
    resting = p.order("o-2", "dora-2")
    amended = client.amend_order(parse_order(resting), 4500, 700)
    client.cancel_all()
    assert body_of(api.calls[0]) == {"reduce_to": "3.00"}
    assert body_of(api.calls[1]) == {"ticker": "MKT-A", "side": "bid", "price": "0.4500",
                                     "count": "7.00", "client_order_id": "dora-2"}
    assert (decreased.status, decreased.remaining) == (CancelStatus.CANCELLED, 300)
    assert (amended.status, amended.order_id, amended.filled, amended.remaining) == (
        PlaceStatus.PLACED, "o-2", 100, 600)
    assert api.calls[2].request.method == "DELETE"


def test_place_orders_refuses_orders_it_could_not_match_back(client: KalshiClient) -> None:
    with pytest.raises(ValueError, match="appears twice"):
        client.place_orders([req(1), req(1)])
    with pytest.raises(ValueError, match="no client_order_id"):
        client.place_orders([OrderRequest("MKT-A", Side.BID, 4200, 100, client_order_id="")])


# ---- reads --------------------------------------------------------------------------------------

def test_resting_orders_follow_every_cursor(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.get(f"{BASE}/portfolio/orders", json={"orders": [p.order("o-1", "c-1")], "cursor": "k1"})
    api.get(f"{BASE}/portfolio/orders", json={"orders": [p.order("o-2", "c-2", side="ask")],
                                              "cursor": "k2"})
    api.get(f"{BASE}/portfolio/orders", json={"orders": [], "cursor": ""})
    orders = client.fetch_resting_orders("MKT-A")
    assert [o.order_id for o in orders] == ["o-1", "o-2"]
    assert orders[1].side is Side.ASK and orders[0].created_ms == 1_767_225_601_500
    assert [dict(query_of(c)) for c in api.calls] == [
        {"ticker": "MKT-A", "status": "resting", "limit": "1000"},
        {"ticker": "MKT-A", "status": "resting", "limit": "1000", "cursor": "k1"},
        {"ticker": "MKT-A", "status": "resting", "limit": "1000", "cursor": "k2"},
    ]


def test_fills_window_is_widened_to_whole_seconds_and_paged(
    api: responses.RequestsMock, make_client: Callable[..., KalshiClient]
) -> None:
    client = make_client(page_size=2)
    api.get(f"{BASE}/portfolio/fills", json={"fills": [p.fill("f1"), p.fill("f2")], "cursor": "n"})
    api.get(f"{BASE}/portfolio/fills", json={"fills": [p.fill("f3")], "cursor": ""})
    fills = client.fetch_fills(since_ms=1_767_225_605_999, until_ms=1_767_225_609_001)
    assert [f.fill_id for f in fills] == ["f1", "f2", "f3"]
    assert dict(query_of(api.calls[0])) == {
        "min_ts": "1767225605", "max_ts": "1767225610", "limit": "2"}
    assert (fills[0].price, fills[0].count, fills[0].fee, fills[0].ts_ms) == (
        4200, 200, 3500, 1_767_225_605_000)


def test_orderbooks_use_the_multi_book_endpoint_in_chunks_of_100(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        tickers = [v for k, v in parse_qsl(urlsplit(request.url).query) if k == "tickers"]
        books = [{"ticker": t, "orderbook_fp": {
            "yes_dollars": [["0.3000", "5.00"], ["0.4100", "1.00"]],
            "no_dollars": [["0.5000", "2.00"], ["0.5500", "3.00"]]}} for t in tickers]
        return 200, {}, json.dumps({"orderbooks": books})

    api.add_callback(responses.GET, f"{BASE}/markets/orderbooks", callback=answer)
    tickers = [f"T{n}" for n in range(150)]
    books = client.fetch_orderbooks(tickers)
    chunks = [len([k for k, _ in query_of(c) if k == "tickers"]) for c in api.calls]
    assert sorted(chunks, reverse=True) == [100, 50]  # sent together: in either order
    assert sorted(books) == sorted(tickers)
    book = books["T7"]
    assert book.bids == (Level(4100, 100), Level(3000, 500))  # best (highest) first
    assert book.asks == (Level(4500, 300), Level(5000, 200))  # YES ask = 1 - NO bid, lowest first


def test_markets_become_rules_with_the_tick_grid(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.get(f"{BASE}/markets", json={"markets": [p.market("M1"), p.market("M2", status="inactive")],
                                     "cursor": ""})
    rules = client.fetch_markets(tickers=["M1", "M2"], status="open")
    assert dict(query_of(api.calls[0])) == {"status": "open", "tickers": "M1,M2", "limit": "1000"}
    assert rules[0].price_ranges == (PriceRange(0, 1000, 10), PriceRange(1000, 9000, 100),
                                     PriceRange(9000, 10_000, 10))
    assert (rules[0].status, rules[1].status) == (MarketStatus.ACTIVE, MarketStatus.INACTIVE)
    assert rules[0].close_time_ms == 1_767_312_000_000
    assert rules[0].price_level_structure == "tapered_deci_cent"


def test_trades_stop_at_the_requested_limit(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    trade = {"trade_id": "t", "ticker": "M1", "count_fp": "1.00", "yes_price_dollars": "0.5000",
             "no_price_dollars": "0.5000", "taker_outcome_side": "no", "taker_book_side": "ask",
             "created_time": "2026-01-01T00:00:00Z", "is_block_trade": False}
    api.get(f"{BASE}/markets/trades", json={"trades": [trade] * 3, "cursor": "more"})
    trades = client.fetch_trades("M1", since_ms=1_767_225_600_500, limit=3)
    assert len(trades) == 3 and trades[0].taker_side is Side.ASK
    assert dict(query_of(api.calls[0])) == {"ticker": "M1", "min_ts": "1767225600", "limit": "3"}
    assert len(api.calls) == 1


def test_fetch_order_of_an_unknown_id_raises_not_found(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.get(f"{BASE}/portfolio/orders/nope", status=404, json=p.error_body("not_found", "x"))
    with pytest.raises(NotFoundError):
        client.fetch_order("nope")


def test_portfolio_reads(api: responses.RequestsMock, client: KalshiClient) -> None:
    api.get(f"{BASE}/portfolio/positions", json={"market_positions": [{
        "ticker": "M1", "exchange_index": 0, "total_traded_dollars": "5.0000",
        "position_fp": "-3.00", "market_exposure_dollars": "1.500000",
        "realized_pnl_dollars": "-0.2500", "fees_paid_dollars": "0.0100",
        "last_updated_ts": "2026-01-01T00:00:00Z"}], "event_positions": []})
    api.get(f"{BASE}/portfolio/balance", json={"balance": 12345, "balance_dollars": "123.4567",
                                               "portfolio_value": 500, "updated_ts": 1_767_225_600})
    api.get(f"{BASE}/exchange/user_data_timestamp", json={"as_of_time": "2026-01-01T00:00:00.25Z"})
    api.get(f"{BASE}/portfolio/orders/queue_positions", json={"queue_positions": [
        {"order_id": "o-1", "market_ticker": "M1", "queue_position_fp": "12.00"}]})
    api.get(f"{BASE}/exchange/status", json={"exchange_active": True, "trading_active": False})
    position = client.fetch_positions()[0]
    balance = client.fetch_balance()
    assert (position.position, position.exposure, position.realized_pnl,
            position.updated_ms) == (-300, 1_500_000, -250_000, 1_767_225_600_000)
    assert (balance.balance, balance.portfolio_value, balance.updated_ts_ms,
            balance.updated_ts_precision_ms) == (123_456_700, 5_000_000, 1_767_225_600_000, 1000)
    assert client.fetch_user_data_timestamp() == 1_767_225_600_250
    assert client.fetch_queue_positions(["M1", "M2"])[0].ahead == 1200
    assert query_of(api.calls[3]) == [("market_tickers", "M1,M2")]
    status = client.fetch_exchange_status()
    assert (status.exchange_active, status.trading_active) == (True, False)


def test_order_groups(api: responses.RequestsMock, client: KalshiClient) -> None:
    group_url = f"{BASE}/portfolio/order_groups"
    api.post(f"{group_url}/create", status=201, json={"order_group_id": "g1", "subaccount": 0})
    api.get(f"{group_url}/g1", json={"is_auto_cancel_enabled": True, "contracts_limit_fp": "5.00",
                                     "orders": ["o-1"]})
    api.get(group_url, json={"order_groups": [
        {"id": "g1", "contracts_limit_fp": "5.00", "is_auto_cancel_enabled": True}]})
    for action in ("reset", "trigger", "limit"):
        api.put(f"{group_url}/g1/{action}", json={})
    api.delete(f"{group_url}/g1", json={})
    assert client.create_order_group(500) == "g1"
    assert client.fetch_order_group("g1").order_ids == ("o-1",)
    assert client.fetch_order_groups()[0].contracts_limit == 500
    client.reset_order_group("g1")
    client.trigger_order_group("g1")
    client.update_order_group_limit("g1", 700)
    client.delete_order_group("g1")
    assert body_of(api.calls[0]) == {"contracts_limit_fp": "5.00"}
    assert body_of(api.calls[5]) == {"contracts_limit_fp": "7.00"}
    assert [c.request.method for c in api.calls] == [
        "POST", "GET", "GET", "PUT", "PUT", "PUT", "DELETE"]


def test_deleting_a_group_that_is_already_gone_is_done(
    api: responses.RequestsMock, client: KalshiClient
) -> None:
    api.delete(f"{BASE}/portfolio/order_groups/g1", status=404,
               json=p.error_body("not_found", "order group not found"))
    client.delete_order_group("g1")
    assert len(api.calls) == 1


def test_a_wave_check_can_stop_the_create_batches_not_sent_yet(
    api: responses.RequestsMock, make_client: Callable[..., KalshiClient]
) -> None:
    """One create per batch, so the 95 tokens held pay for a first wave of 9 and the rest go one
    wave at a time. The check is asked before each later wave: the second goes, the third is
    stopped, and every create not sent comes back refused with the check's reason."""
    client = make_client(max_batch=1)

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        sent = json.loads(request.body)["orders"]
        items = [p.created(f"o-{o['client_order_id']}", o["client_order_id"]) for o in sent]
        return 201, {}, json.dumps({"orders": items})

    api.add_callback(responses.POST, BATCH_URL, callback=answer)
    asked: list[int] = []

    def check() -> str:
        asked.append(len(api.calls))
        return "stopping" if len(asked) == 2 else ""

    sent = client.place_batches([req(n) for n in range(25)], between_waves=check)
    results = [r for batch in sent for r in batch.results]
    assert len(asked) == 2 and asked[1] == asked[0] + 1  # one batch a wave after the first
    placed = [r for r in results if r.status is PlaceStatus.PLACED]
    assert len(placed) == len(api.calls) == asked[1]
    assert [r.request.client_order_id for r in results] == [f"dora-{n}" for n in range(25)]
    assert {(r.status, r.error_code, r.error_message) for r in results[len(placed):]} == {
        (PlaceStatus.REJECTED, "stopping", "not sent: stopping")}


def test_a_wave_check_can_stop_the_cancel_batches_not_sent_yet(
    api: responses.RequestsMock, make_client: Callable[..., KalshiClient]
) -> None:
    client = make_client(max_batch=1)

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        ids = [o["order_id"] for o in json.loads(request.body)["orders"]]
        return 200, {}, json.dumps({"orders": [p.cancelled(i) for i in ids]})

    api.add_callback(responses.DELETE, BATCH_URL, callback=answer)
    ids = [f"o-{n}" for n in range(80)]  # 2 tokens each: more than the 100 held
    sent = client.cancel_batches(ids, between_waves=lambda: "lease_not_held")
    results = [r for batch in sent for r in batch.results]
    assert [r.order_id for r in results] == ids
    cancelled = [r for r in results if r.status is CancelStatus.CANCELLED]
    assert 1 <= len(cancelled) == len(api.calls) < len(ids)
    assert {(r.status, r.error_code) for r in results[len(cancelled):]} == {
        (CancelStatus.FAILED, "lease_not_held")}
