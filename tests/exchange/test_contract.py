"""Contract tests: the same client scenarios against hand-written Kalshi payloads (`responses`)
and against the real local simulator over HTTP.

Each backend arranges a scenario its own way (canned JSON, or engine/control-surface actions on
the sim); the client calls and the assertions are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any, Protocol

import pytest
import requests
import responses

from dora.core.models import (
    CancelStatus,
    OrderRequest,
    OrderStatus,
    PlaceResult,
    PlaceStatus,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from dora.core.tiers import tier_named
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import Clock, FakeClock, SystemClock
from dora.sim.engine.records import CreateOrder
from tests.exchange import payloads as p
from tests.exchange.conftest import BASE

TICKER = "SIM-MKT-00"  # linear_cent in the sim: one-cent ticks
RESTING_PRICE = 200  # $0.02, far from any flow: rests
OFF_GRID_PRICE = 250  # $0.025 is not on a one-cent grid
BATCH_CREATE = "POST /portfolio/events/orders/batched"
SINGLE_CREATE = "POST /portfolio/events/orders"
FILLS_PAGE = 2


def order_request(cid: str, price: int = RESTING_PRICE, count: int = 100) -> OrderRequest:
    return OrderRequest(TICKER, Side.BID, price, count, client_order_id=cid)


class Backend(Protocol):
    def client(self, **kwargs: Any) -> KalshiClient: ...
    def arrange_place(self, orders: Sequence[OrderRequest],
                      rejected: dict[int, str] | None = None) -> None: ...
    def fill_completely(self, placed: Sequence[PlaceResult]) -> None: ...
    def storm_client(self) -> tuple[KalshiClient, int, int]: ...
    def faulty_client(self) -> tuple[KalshiClient, int]: ...
    def lose_create_answers(self, orders: Sequence[OrderRequest], mode: str) -> None: ...
    def restore(self) -> None: ...
    def server_statuses(self, status: int) -> int: ...
    def server_requests(self, endpoint: str) -> int: ...


# ---- backend 1: hand-written payloads ------------------------------------------------------------

class CannedBackend:
    def __init__(self, api: responses.RequestsMock, credentials: Credentials) -> None:
        self.api = api
        self.credentials = credentials
        self.clock = FakeClock()

    def client(self, tier: str = "basic", **kwargs: Any) -> KalshiClient:
        return KalshiClient(BASE, self.credentials, RateLimiter(tier_named(tier), self.clock),
                            self.clock, **kwargs)

    def arrange_place(self, orders: Sequence[OrderRequest],
                      rejected: dict[int, str] | None = None) -> None:
        rejected = rejected or {}
        items = [p.item_error(rejected[i], "refused", client_order_id=r.client_order_id)
                 if i in rejected else p.created(f"o-{r.client_order_id}", r.client_order_id,
                                                 remaining="1.00")
                 for i, r in enumerate(orders)]
        self.api.post(f"{BASE}/portfolio/events/orders/batched", status=201,
                      json={"orders": items})
        resting = [p.order(f"o-{r.client_order_id}", r.client_order_id, ticker=r.ticker,
                           price="0.0200", remaining="1.00")
                   for i, r in enumerate(orders) if i not in rejected]
        self.api.get(f"{BASE}/portfolio/orders", json={"orders": resting, "cursor": ""})

    def fill_completely(self, placed: Sequence[PlaceResult]) -> None:
        for result in placed:
            self.api.delete(f"{BASE}/portfolio/events/orders/{result.order_id}", status=404,
                            json=p.error_body("not_found", "order is no longer resting"))
        self.api.delete(f"{BASE}/portfolio/events/orders/batched", json={"orders": [
            p.item_error("not_found", "gone", order_id=r.order_id) for r in placed]})
        fills = [p.fill(f"f-{r.order_id}", order_id=r.order_id) | {"yes_price_dollars": "0.0200",
                                                                     "count_fp": "1.00"}
                 for r in placed]
        pages = [fills[i:i + FILLS_PAGE] for i in range(0, len(fills), FILLS_PAGE)]
        for n, page in enumerate(pages):
            self.api.get(f"{BASE}/portfolio/fills", json={
                "fills": page, "cursor": "" if n == len(pages) - 1 else f"page-{n + 1}"})

    def storm_client(self) -> tuple[KalshiClient, int, int]:
        for _ in range(3):
            self.api.get(f"{BASE}/portfolio/balance", status=429,
                         json={"error": "too many requests"})
        self._balance_ok()
        return self.client(), 5, 1

    def faulty_client(self) -> tuple[KalshiClient, int]:
        for _ in range(2):
            self.api.get(f"{BASE}/portfolio/balance", status=503,
                         json=p.error_body("service_unavailable", "try later"))
        self._balance_ok()
        return self.client(), 5

    def _balance_ok(self) -> None:
        self.api.get(f"{BASE}/portfolio/balance", json={
            "balance": 100, "balance_dollars": "1.0000", "portfolio_value": 0, "updated_ts": 1})

    def lose_create_answers(self, orders: Sequence[OrderRequest], mode: str) -> None:
        lost: dict[str, Any] = (
            {"body": requests.exceptions.ConnectionError("connection closed by peer")}
            if mode == "drop" else
            {"status": 503, "json": p.error_body("service_unavailable", "unavailable")})
        self.api.post(f"{BASE}/portfolio/events/orders/batched", **lost)
        self.api.post(f"{BASE}/portfolio/events/orders", **lost)
        self.api.get(f"{BASE}/portfolio/orders", json={"orders": [
            p.order(f"o-{r.client_order_id}", r.client_order_id, price="0.0200",
                    remaining="1.00") for r in orders], "cursor": ""})

    def restore(self) -> None:
        pass

    def server_statuses(self, status: int) -> int:
        return sum(1 for c in self.api.calls
                   if c.response is not None and c.response.status_code == status)

    def server_requests(self, endpoint: str) -> int:
        method, path = endpoint.split(" ", 1)
        return sum(1 for c in self.api.calls if c.request.method == method
                   and c.request.url.split("?")[0] == BASE + path)


# ---- backend 2: the local simulator --------------------------------------------------------------

class QuickRetryClock(SystemClock):
    """Real time, but sleeps a tenth as long, so retry backoffs do not slow the suite."""

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds / 10)


class SimBackend:
    TAKER = "contract-taker"

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.credentials = Credentials.from_file(sim.key_id, sim.private_key_path)
        self.session = requests.Session()
        with sim.lock:
            sim.engine.open_account(self.TAKER, 1_000_000 * 1_000_000)

    def client(self, tier: str = "basic", clock: Clock | None = None,
               **kwargs: Any) -> KalshiClient:
        clock = clock or SystemClock()
        return KalshiClient(self.sim.url, self.credentials,
                            RateLimiter(tier_named(tier), clock), clock, **kwargs)

    def arrange_place(self, orders: Sequence[OrderRequest],
                      rejected: dict[int, str] | None = None) -> None:
        pass  # the sim decides for itself

    def fill_completely(self, placed: Sequence[PlaceResult]) -> None:
        with self.sim.lock:
            for result in placed:
                r = result.request
                self.sim.engine.create_order(self.TAKER, CreateOrder(
                    r.ticker, r.side.opposite, r.price, r.count, TimeInForce.IOC,
                    SelfTradePrevention.TAKER_AT_CROSS))

    def storm_client(self) -> tuple[KalshiClient, int, int]:
        # The client believes it has a far bigger budget than the sim (Basic) grants, and
        # several threads share it, so requests arrive faster than Basic refills.
        return self.client(tier="prime"), 60, 8

    def faulty_client(self) -> tuple[KalshiClient, int]:
        self._knobs(fault_rate="1/2")
        return self.client(clock=QuickRetryClock(), max_attempts=10), 10

    def lose_create_answers(self, orders: Sequence[OrderRequest], mode: str) -> None:
        self._knobs(lost_response_rate="1", lost_response_mode=mode)

    def restore(self) -> None:
        self._knobs(fault_rate="0", lost_response_rate="0")

    def _knobs(self, **values: str) -> None:
        answer = self.session.post(f"{self.sim.control_url}/knobs", json=values, timeout=5)
        assert answer.status_code == 200, answer.text

    def _counters(self) -> dict[str, Any]:
        answer = self.session.get(f"{self.sim.control_url}/counters", timeout=5)
        assert answer.status_code == 200, answer.text
        counters: dict[str, Any] = answer.json()
        return counters

    def server_statuses(self, status: int) -> int:
        return int(self._counters()["status"].get(str(status), 0))

    def server_requests(self, endpoint: str) -> int:
        return int(self._counters()["requests"].get(endpoint, 0))


@pytest.fixture(params=["canned", "sim"])
def backend(request: pytest.FixtureRequest, credentials: Credentials) -> Iterator[Backend]:
    if request.param == "canned":
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            yield CannedBackend(api, credentials)
        return
    sim_factory: Callable[..., Any] = request.getfixturevalue("sim_factory")
    sim = sim_factory(flow=False, seed=7, fault_rate=Fraction(0))
    backend = SimBackend(sim)
    yield backend
    backend.session.close()


# ---- the scenarios -------------------------------------------------------------------------------

def test_place_then_list(backend: Backend) -> None:
    client = backend.client()
    orders = [order_request("ct-place-1"), order_request("ct-place-2", price=300)]
    backend.arrange_place(orders)
    results = client.place_orders(orders)
    assert [r.status for r in results] == [PlaceStatus.PLACED] * 2
    assert len({r.order_id for r in results}) == 2 and all(r.order_id for r in results)
    listed = {o.client_order_id: o for o in client.fetch_resting_orders(TICKER)}
    for result in results:
        order = listed[result.request.client_order_id]
        assert (order.order_id, order.ticker, order.side, order.remaining, order.status) == (
            result.order_id, TICKER, Side.BID, 100, OrderStatus.RESTING)


def test_partial_batch_failure_is_data(backend: Backend) -> None:
    client = backend.client()
    orders = [order_request("ct-part-1"), order_request("ct-part-2", price=OFF_GRID_PRICE),
              order_request("ct-part-3")]
    backend.arrange_place(orders, rejected={1: "invalid_price"})
    results = client.place_orders(orders)
    assert [r.status for r in results] == [PlaceStatus.PLACED, PlaceStatus.REJECTED,
                                           PlaceStatus.PLACED]
    assert results[1].error_code == "invalid_price"
    listed = {o.client_order_id for o in client.fetch_resting_orders(TICKER)}
    assert {"ct-part-1", "ct-part-3"} <= listed and "ct-part-2" not in listed


def test_cancel_of_an_already_filled_order_is_not_found(backend: Backend) -> None:
    client = backend.client()
    orders = [order_request("ct-filled-1")]
    backend.arrange_place(orders)
    placed = client.place_orders(orders)
    backend.fill_completely(placed)
    single = client.cancel_order(placed[0].order_id)
    batch = client.cancel_orders([placed[0].order_id])
    assert (single.status, batch[0].status) == (CancelStatus.NOT_FOUND, CancelStatus.NOT_FOUND)


def test_fills_are_read_across_pages(backend: Backend) -> None:
    client = backend.client(page_size=FILLS_PAGE)
    orders = [order_request(f"ct-fills-{n}") for n in range(5)]
    since_ms = client.clock.now_ms()
    backend.arrange_place(orders)
    placed = client.place_orders(orders)
    backend.fill_completely(placed)
    fills = client.fetch_fills(since_ms=since_ms)
    assert len(fills) == 5 and len({f.fill_id for f in fills}) == 5
    assert {f.order_id for f in fills} == {r.order_id for r in placed}
    assert {(f.side, f.price, f.count, f.is_taker) for f in fills} == {
        (Side.BID, RESTING_PRICE, 100, False)}
    assert client.stats.snapshot()["GET /portfolio/fills"].calls == 3  # pages of 2, 2, 1


def test_a_429_storm_backs_off_and_every_read_succeeds(backend: Backend) -> None:
    client, reads, threads = backend.storm_client()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        balances = list(pool.map(lambda _: client.fetch_balance(), range(reads)))
    assert len(balances) == reads
    limited = client.stats.totals().rate_limited
    assert limited >= 1
    assert limited == backend.server_statuses(429)
    assert client.limiter.consecutive_hits == 0


def test_5xx_then_success(backend: Backend) -> None:
    try:
        client, reads = backend.faulty_client()
        balances = [client.fetch_balance() for _ in range(reads)]
    finally:
        backend.restore()
    assert len(balances) == reads
    failed = client.stats.totals().errors
    assert failed >= 1
    assert failed == backend.server_statuses(503)


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "single"])
@pytest.mark.parametrize("mode", ["drop", "503"])
def test_a_lost_create_answer_is_unknown_then_found_by_reconcile_and_never_resent(
    backend: Backend, mode: str, batch: bool
) -> None:
    client = backend.client()
    request = order_request(f"ct-lost-{mode}-{batch}")
    backend.lose_create_answers([request], mode)
    try:
        result = client.place_orders([request])[0] if batch else client.place_order(request)
    finally:
        backend.restore()
    assert result.status is PlaceStatus.UNKNOWN
    endpoint = BATCH_CREATE if batch else SINGLE_CREATE
    assert client.stats.snapshot()[endpoint].calls == 1
    assert backend.server_requests(endpoint) == 1
    found = [o for o in client.fetch_orders(ticker=TICKER, status=OrderStatus.RESTING)
             if o.client_order_id == request.client_order_id]
    assert len(found) == 1  # it was applied, exactly once
    assert found[0].remaining == request.count


def test_sim_backend_counters_see_the_client(backend: Backend) -> None:
    """Guards the contract tests themselves: the server-side counts they compare against work."""
    client = backend.client()
    orders = [order_request("ct-count-1")]
    backend.arrange_place(orders)
    client.place_orders(orders)
    assert backend.server_requests(BATCH_CREATE) == 1
    assert client.stats.snapshot()[BATCH_CREATE].calls == 1
