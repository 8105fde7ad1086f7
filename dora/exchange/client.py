"""KalshiClient: typed calls on the Kalshi V2 REST API returning dora's own types.

Reads fetch every page and raise on failure (TransientError after retries, FatalError, ...);
order writes return per-order results (see :mod:`dora.exchange.orders`). The client owns a small
bounded pool (:mod:`dora.exchange.parallel`): the chunks of one read or one list of writes go out
together, and :meth:`KalshiClient.run_together` sends a phase's independent calls at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import requests

from dora.core.models import (
    Balance,
    CancelResult,
    DecreaseResult,
    ExchangePosition,
    ExchangeStatus,
    Fill,
    MarketRules,
    OrderBook,
    OrderGroup,
    OrderRequest,
    OrderStatus,
    PlaceResult,
    PublicTrade,
    QueuePosition,
    RenewResult,
    RestingOrder,
    Settlement,
    TsMs,
)
from dora.core.tiers import Bucket, CostTable, Tier
from dora.core.units import Count, Price
from dora.exchange import endpoints as ep
from dora.exchange import wire_reads as wr
from dora.exchange.auth import Signer
from dora.exchange.groups import OrderGroups
from dora.exchange.http import DEFAULT_TIMEOUT, ApiRequest, Transport
from dora.exchange.orders import OrderEntry, Sent, WaveCheck, WaveDone
from dora.exchange.parallel import DEFAULT_WIDTH, Outcome, Together, chunks
from dora.exchange.ratelimit import RateLimiter
from dora.exchange.stats import ApiStats
from dora.exchange.wire import WireFormatError
from dora.runtime.clock import Clock
from dora.runtime.deadline import TimeLeft

T = TypeVar("T")
MAX_TICKERS_PER_CALL = 100
MAX_PAGE_SIZE = 1000


class KalshiClient:
    def __init__(
        self, base_url: str, credentials: Signer | None, limiter: RateLimiter, clock: Clock, *,
        max_batch: int = 20, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None, page_size: int = MAX_PAGE_SIZE,
        max_attempts: int = 5, logger: logging.Logger | None = None,
        concurrency: int = DEFAULT_WIDTH,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be in 1..{MAX_PAGE_SIZE}, got {page_size}")
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.clock = clock
        self.stats = ApiStats()
        self._page_size = page_size
        self.together = Together(concurrency)
        self._transport = Transport(
            base_url, credentials, limiter, clock, self.stats, timeout=timeout, session=session,
            max_attempts=max_attempts, logger=logger, pool_size=concurrency + 2,
        )
        self._orders = OrderEntry(self._transport, limiter, clock, self.together,
                                  max_batch=max_batch, logger=logger)
        self._groups = OrderGroups(self._transport)

    def close(self) -> None:
        self.together.close()
        self._transport.close()

    def run_together(self, calls: Sequence[Callable[[], T]]) -> list[Outcome[T]]:
        """Independent calls at once over the shared pool; every outcome once all have ended."""
        return self.together.run(calls)

    def bound_by(self, budget: TimeLeft | None) -> None:
        """Fit every later call into ``budget`` (a stop budget; see :mod:`dora.exchange.http`)."""
        self._transport.bound_by(budget)

    # ---- exchange and markets -----------------------------------------------------------------

    def fetch_exchange_status(self) -> ExchangeStatus:
        return wr.parse_exchange_status(self._get(ep.EXCHANGE_STATUS))

    def fetch_account_limits(self) -> Tier:
        """The account's real rate limits (``GET /account/limits``)."""
        return wr.parse_account_limits(self._get(ep.ACCOUNT_LIMITS))

    def fetch_endpoint_costs(self) -> CostTable:
        """The endpoint costs that differ from the default (``GET /account/endpoint_costs``)."""
        return wr.parse_endpoint_costs(self._get(ep.ENDPOINT_COSTS))

    def fetch_user_data_timestamp(self) -> TsMs:
        return wr.parse_user_data_timestamp(self._get(ep.USER_DATA_TIMESTAMP))

    def fetch_markets(
        self, tickers: Sequence[str] | None = None, status: str | None = None
    ) -> list[MarketRules]:
        base = [("status", status)] if status else []
        if tickers is None:
            return self._all_pages(ep.MARKETS, base, wr.parse_markets_page)
        def chunk_call(chunk: Sequence[str]) -> Callable[[], list[MarketRules]]:
            params = [*base, ("tickers", ",".join(chunk))]
            return lambda: self._all_pages(ep.MARKETS, params, wr.parse_markets_page)

        parts = chunks(_unique(tickers), MAX_TICKERS_PER_CALL)
        return _joined(self.together.all([chunk_call(chunk) for chunk in parts]))

    def fetch_orderbooks(self, tickers: Sequence[str]) -> dict[str, OrderBook]:
        """Books for many markets through the multi-book endpoint, at most 100 tickers a call
        (the calls go out together)."""
        def chunk_call(chunk: Sequence[str]) -> Callable[[], dict[str, OrderBook]]:
            params = [("tickers", ticker) for ticker in chunk]
            return lambda: wr.parse_orderbooks(self._get(ep.ORDERBOOKS, params))

        books: dict[str, OrderBook] = {}
        parts = chunks(_unique(tickers), MAX_TICKERS_PER_CALL)
        for part in self.together.all([chunk_call(chunk) for chunk in parts]):
            books.update(part)
        return books

    def fetch_trades(
        self, ticker: str, since_ms: TsMs | None = None, limit: int = 100
    ) -> list[PublicTrade]:
        """The newest ``limit`` public trades of ``ticker`` (since ``since_ms``), newest first."""
        params = [("ticker", ticker)]
        if since_ms is not None:
            params.append(("min_ts", str(since_ms // 1000)))
        return self._all_pages(ep.TRADES, params, wr.parse_trades_page, max_items=limit)

    # ---- portfolio ----------------------------------------------------------------------------

    def fetch_resting_orders(self, ticker: str | None = None) -> list[RestingOrder]:
        return self.fetch_orders(ticker=ticker, status=OrderStatus.RESTING)

    def fetch_orders(
        self, *, ticker: str | None = None, status: OrderStatus | None = None,
        min_ts_ms: TsMs | None = None,
    ) -> list[RestingOrder]:
        params = []
        if ticker:
            params.append(("ticker", ticker))
        if status is not None:
            params.append(("status", status.value))
        if min_ts_ms is not None:
            params.append(("min_ts", str(min_ts_ms // 1000)))
        return self._all_pages(ep.ORDERS, params, wr.parse_orders_page)

    def fetch_order(self, order_id: str) -> RestingOrder:
        body = self._transport.call(ApiRequest(ep.ORDER, path_args={"order_id": order_id}))
        return wr.parse_order_response(body)

    def fetch_fills(
        self, since_ms: TsMs, until_ms: TsMs | None = None, ticker: str | None = None
    ) -> list[Fill]:
        """Every fill in [since_ms, until_ms]. The query is in whole seconds, widened outward
        (floor/ceil) so consecutive windows overlap; callers dedupe by fill_id."""
        params = [("min_ts", str(since_ms // 1000))]
        if until_ms is not None:
            params.append(("max_ts", str(-(-until_ms // 1000))))
        if ticker:
            params.append(("ticker", ticker))
        return self._all_pages(ep.FILLS, params, wr.parse_fills_page)

    def fetch_positions(self) -> list[ExchangePosition]:
        return self._all_pages(ep.POSITIONS, [], wr.parse_positions_page)

    def fetch_balance(self) -> Balance:
        return wr.parse_balance(self._get(ep.BALANCE))

    def fetch_settlements(self, since_ms: TsMs | None = None) -> list[Settlement]:
        params = [] if since_ms is None else [("min_ts", str(since_ms // 1000))]
        return self._all_pages(ep.SETTLEMENTS, params, wr.parse_settlements_page)

    def fetch_queue_positions(self, tickers: Sequence[str]) -> list[QueuePosition]:
        positions: list[QueuePosition] = []
        for chunk in chunks(_unique(tickers), MAX_TICKERS_PER_CALL):
            body = self._get(ep.QUEUE_POSITIONS, [("market_tickers", ",".join(chunk))])
            positions += wr.parse_queue_positions(body)
        return positions

    # ---- order entry --------------------------------------------------------------------------

    def batch_size(self, bucket: Bucket, per_item_cost: int) -> int:
        return self._orders.batch_size(bucket, per_item_cost)

    def place_order(self, request: OrderRequest) -> PlaceResult:
        return self._orders.place_order(request)

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        return self._orders.place_orders(requests)

    def cancel_order(self, order_id: str) -> CancelResult:
        return self._orders.cancel_order(order_id)

    def cancel_orders(self, order_ids: Sequence[str]) -> list[CancelResult]:
        return self._orders.cancel_orders(order_ids)

    def place_batches(
        self, requests: Sequence[OrderRequest], *, between_waves: WaveCheck | None = None,
        after_wave: WaveDone | None = None,
    ) -> list[Sent[PlaceResult]]:
        return self._orders.place_batches(requests, between_waves=between_waves,
                                          after_wave=after_wave)

    def cancel_batches(
        self, order_ids: Sequence[str], *, between_waves: WaveCheck | None = None,
    ) -> list[Sent[CancelResult]]:
        return self._orders.cancel_batches(order_ids, between_waves=between_waves)

    def decrease_order(self, order_id: str, reduce_to: Count) -> DecreaseResult:
        return self._orders.decrease_order(order_id, reduce_to)

    def decrease_orders(
        self, decreases: Sequence[tuple[str, Count]]
    ) -> list[Sent[DecreaseResult]]:
        return self._orders.decrease_orders(decreases)

    def amend_order(self, order: RestingOrder, price: Price, total_count: Count) -> PlaceResult:
        return self._orders.amend_order(order, price, total_count)

    def renew_order(self, order: RestingOrder, expiration_s: int) -> RenewResult:
        return self._orders.renew_order(order, expiration_s)

    def spare_write_tokens(self) -> int:
        """Whole write tokens the client's bucket holds now (what a write could take unwaited)."""
        return self.limiter.available(Bucket.WRITE)

    def cancel_all(self) -> None:
        self._orders.cancel_all()

    # ---- order groups -------------------------------------------------------------------------

    def create_order_group(self, contracts_limit: Count) -> str:
        return self._groups.create_order_group(contracts_limit)

    def fetch_order_group(self, group_id: str) -> OrderGroup:
        return self._groups.fetch_order_group(group_id)

    def fetch_order_groups(self) -> list[OrderGroup]:
        return self._groups.fetch_order_groups()

    def reset_order_group(self, group_id: str) -> None:
        self._groups.reset_order_group(group_id)

    def trigger_order_group(self, group_id: str) -> None:
        self._groups.trigger_order_group(group_id)

    def update_order_group_limit(self, group_id: str, contracts_limit: Count) -> None:
        self._groups.update_order_group_limit(group_id, contracts_limit)

    def delete_order_group(self, group_id: str) -> None:
        self._groups.delete_order_group(group_id)

    # ---- helpers ------------------------------------------------------------------------------

    def _get(self, endpoint: ep.Endpoint, params: Sequence[tuple[str, str]] = ()) -> Any:
        return self._transport.call(ApiRequest(endpoint, params=params))

    def _all_pages(
        self, endpoint: ep.Endpoint, params: Sequence[tuple[str, str]],
        parse: Callable[[Any], tuple[list[T], str]], max_items: int | None = None,
    ) -> list[T]:
        """Follow ``cursor`` until the last page (or until ``max_items``)."""
        results: list[T] = []
        cursor = ""
        seen: set[str] = set()
        while True:
            limit = self._page_size if max_items is None else min(self._page_size,
                                                                  max_items - len(results))
            page_params = [*params, ("limit", str(limit))]
            if cursor:
                page_params.append(("cursor", cursor))
            page, cursor = parse(self._get(endpoint, page_params))
            results += page
            if not cursor or (max_items is not None and len(results) >= max_items):
                return results if max_items is None else results[:max_items]
            if cursor in seen:
                raise WireFormatError(f"{endpoint.key}: cursor {cursor!r} repeated; paging loops")
            seen.add(cursor)


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _joined(parts: Iterable[list[T]]) -> list[T]:
    return [item for part in parts for item in part]

