"""Public market data (no authentication): markets, trades, order books, exchange status."""

from __future__ import annotations

from dora.sim.engine.records import EngineError, SimMarket, SimTrade
from dora.sim.http.context import Route, RouteKind, SimContext
from dora.sim.http.http_types import Request, Response, invalid, paginate
from dora.sim.http.routes_portfolio import time_window_ms
from dora.sim.http.wire import exchange_status_json, user_data_timestamp_json
from dora.sim.http.wire_market import (
    MarketActivity,
    market_json,
    orderbook_fp_json,
    orderbooks_json,
    single_orderbook_json,
    trade_json,
)

DAY_MS = 24 * 3_600_000
MAX_BOOK_DEPTH = 100
MAX_BOOK_TICKERS = 100
MARKET_STATUS_FILTERS = ("unopened", "open", "paused", "closed", "settled")


def _activity(ctx: SimContext, ticker: str) -> MarketActivity:
    day_ago = ctx.now_ms() - DAY_MS
    recent = ctx.engine.trades(ticker, min_ts_ms=day_ago)
    older = ctx.engine.trades(ticker, max_ts_ms=day_ago - 1)
    return MarketActivity(
        volume_24h=sum(t.count for t in recent),
        previous_price=older[0].price if older else None,
    )


def _market_body(ctx: SimContext, market: SimMarket) -> dict[str, object]:
    return market_json(market, _activity(ctx, market.ticker))


def list_markets(ctx: SimContext, request: Request) -> Response:
    query = request.query
    status = query.text("status")
    if status is not None and status not in MARKET_STATUS_FILTERS:
        raise invalid(f"status must be one of {', '.join(MARKET_STATUS_FILTERS)}; got {status!r}")
    tickers = query.items("tickers") or None
    markets = ctx.engine.markets(tickers, status)
    events = query.items("event_ticker")
    if events:
        markets = [m for m in markets if m.event_ticker in events]
    page, cursor = paginate(markets, _market_key, query)
    return Response(200, {"markets": [_market_body(ctx, m) for m in page], "cursor": cursor})


def _market_key(market: SimMarket) -> tuple[str]:
    return (market.ticker,)


def get_market(ctx: SimContext, request: Request) -> Response:
    market = ctx.engine.market(request.params["ticker"])
    return Response(200, {"market": _market_body(ctx, market)})


def list_trades(ctx: SimContext, request: Request) -> Response:
    query = request.query
    min_ms, max_ms = time_window_ms(query)
    ticker = query.text("ticker")
    if ticker is not None:
        ctx.engine.market(ticker)  # 404 for an unknown market
    trades = ctx.engine.trades(ticker, min_ts_ms=min_ms, max_ts_ms=max_ms)
    page, cursor = paginate(trades, _trade_key, query)
    return Response(200, {"trades": [trade_json(t) for t in page], "cursor": cursor})


def _trade_key(trade: SimTrade) -> tuple[int, str]:
    return (-trade.ts_ms, trade.trade_id)


def _depth(request: Request) -> int:
    depth = request.query.integer("depth")
    if depth is None:
        return 0
    if not 0 <= depth <= MAX_BOOK_DEPTH:
        raise invalid(f"depth must be between 0 and {MAX_BOOK_DEPTH}, got {depth}")
    return depth


def get_orderbook(ctx: SimContext, request: Request) -> Response:
    depth = _depth(request)
    bids, asks = ctx.engine.book(request.params["ticker"])
    return Response(200, single_orderbook_json(orderbook_fp_json(bids, asks, depth)))


def get_orderbooks(ctx: SimContext, request: Request) -> Response:
    """Several books; tickers the exchange does not know are left out of the answer."""
    tickers = list(dict.fromkeys(request.query.items("tickers")))
    if not 1 <= len(tickers) <= MAX_BOOK_TICKERS:
        raise invalid(f"tickers must name 1 to {MAX_BOOK_TICKERS} markets, got {len(tickers)}")
    books = []
    for ticker in tickers:
        try:
            bids, asks = ctx.engine.book(ticker)
        except EngineError as exc:
            if exc.status != 404:
                raise
            continue
        books.append((ticker, orderbook_fp_json(bids, asks)))
    return Response(200, orderbooks_json(books))


def exchange_status(ctx: SimContext, request: Request) -> Response:
    return Response(
        200, exchange_status_json(ctx.engine.trading_active, ctx.knobs.pause_until_ms)
    )


def user_data_timestamp(ctx: SimContext, request: Request) -> Response:
    return Response(200, user_data_timestamp_json(ctx.user_data_as_of_ms()))


ROUTES = (
    Route("GET", "/markets", list_markets, RouteKind.PUBLIC),
    Route("GET", "/markets/trades", list_trades, RouteKind.PUBLIC),
    Route("GET", "/markets/orderbooks", get_orderbooks, RouteKind.PUBLIC),
    Route("GET", "/markets/{ticker}", get_market, RouteKind.PUBLIC),
    Route("GET", "/markets/{ticker}/orderbook", get_orderbook, RouteKind.PUBLIC),
    Route("GET", "/exchange/status", exchange_status, RouteKind.PUBLIC),
    Route("GET", "/exchange/user_data_timestamp", user_data_timestamp, RouteKind.PUBLIC),
)
