"""Kalshi V2 read responses -> dora types (Kalshi's V2 schema; docs/kalshi-notes.md). Pure and
strict, like :mod:`dora.exchange.wire`, whose field helpers it uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dora.core.models import (
    Balance,
    ExchangePosition,
    ExchangeStatus,
    Fill,
    Level,
    MarketRules,
    MarketStatus,
    OrderBook,
    OrderGroup,
    OrderStatus,
    PriceRange,
    PublicTrade,
    QueuePosition,
    RestingOrder,
    Settlement,
    Side,
    TsMs,
)
from dora.core.tiers import CostTable, Tier, costs_from_exchange, tier_from_limits
from dora.core.units import (
    ONE_DOLLAR,
    UnitError,
    cents_to_micros,
    parse_count,
    parse_micros,
    parse_price,
)
from dora.exchange.wire import (
    WireFormatError,
    cursor,
    enum,
    items,
    obj,
    opt,
    opt_time_ms,
    opt_units,
    req,
    time_ms,
    units,
)

Page = tuple[list[Any], str]


# ---- orders, fills, portfolio -------------------------------------------------------------------

def parse_order(o: Mapping[str, Any]) -> RestingOrder:
    what = "Order"
    return RestingOrder(
        order_id=req(o, "order_id", str, what),
        client_order_id=req(o, "client_order_id", str, what),
        ticker=req(o, "ticker", str, what),
        side=enum(o, "book_side", Side, what),
        price=units(o, "yes_price_dollars", parse_price, what),
        remaining=units(o, "remaining_count_fp", parse_count, what),
        filled=units(o, "fill_count_fp", parse_count, what),
        status=enum(o, "status", OrderStatus, what),
        created_ms=opt_time_ms(o, "created_time", what),
        order_group_id=opt(o, "order_group_id", str, what, ""),
        expires_ms=opt_time_ms(o, "expiration_time", what),
    )


def parse_orders_page(body: Any) -> tuple[list[RestingOrder], str]:
    o = obj(body, "GetOrdersResponse")
    return [parse_order(i) for i in items(o, "orders", "GetOrdersResponse")], cursor(o, "orders")


def parse_order_response(body: Any) -> RestingOrder:
    return parse_order(obj(req(obj(body, "GetOrderResponse"), "order", dict, "GetOrderResponse"),
                           "Order"))


def parse_fill(o: Mapping[str, Any]) -> Fill:
    what = "Fill"
    if o.get("created_time") is not None:
        ts_ms = time_ms(o, "created_time", what)
    elif o.get("ts") is not None:
        ts_ms = req(o, "ts", int, what) * 1000
    else:
        raise WireFormatError("Fill: neither created_time nor ts is present")
    return Fill(
        fill_id=req(o, "fill_id", str, what),
        order_id=req(o, "order_id", str, what),
        ticker=req(o, "ticker", str, what),
        side=enum(o, "book_side", Side, what),
        price=units(o, "yes_price_dollars", parse_price, what),
        count=units(o, "count_fp", parse_count, what),
        fee=units(o, "fee_cost", parse_micros, what),
        is_taker=req(o, "is_taker", bool, what),
        ts_ms=ts_ms,
    )


def parse_fills_page(body: Any) -> tuple[list[Fill], str]:
    o = obj(body, "GetFillsResponse")
    return [parse_fill(i) for i in items(o, "fills", "GetFillsResponse")], cursor(o, "fills")


def _lenient_time_ms(o: Mapping[str, Any], name: str, what: str) -> TsMs:
    """An RFC 3339 time that only refines what dora does (0, unknown, when absent or in another
    form): a read must not fail for it."""
    try:
        return opt_time_ms(o, name, what) if isinstance(o.get(name), str | None) else 0
    except WireFormatError:
        return 0


def parse_positions_page(body: Any) -> tuple[list[ExchangePosition], str]:
    what = "MarketPosition"
    o = obj(body, "GetPositionsResponse")
    positions = [
        ExchangePosition(
            ticker=req(p, "ticker", str, what),
            position=units(p, "position_fp", parse_count, what),
            exposure=units(p, "market_exposure_dollars", parse_micros, what),
            realized_pnl=units(p, "realized_pnl_dollars", parse_micros, what),
            fees_paid=units(p, "fees_paid_dollars", parse_micros, what),
            updated_ms=_lenient_time_ms(p, "last_updated_ts", what),
        )
        for p in items(o, "market_positions", "GetPositionsResponse")
    ]
    return positions, cursor(o, "positions")


def parse_balance(body: Any) -> Balance:
    what = "GetBalanceResponse"
    o = obj(body, what)
    updated_ms, precision_ms = _epoch_to_ms(req(o, "updated_ts", int, what))
    return Balance(
        balance=units(o, "balance_dollars", parse_micros, what),
        portfolio_value=cents_to_micros(req(o, "portfolio_value", int, what)),
        updated_ts_ms=updated_ms,
        updated_ts_precision_ms=precision_ms,
    )


def _epoch_to_ms(value: int) -> tuple[TsMs, int]:
    """(the start of the moment, how many milliseconds it lasts)."""
    # The unit of GetBalanceResponse.updated_ts is not documented: seconds (the API's convention
    # for *_ts) unless it is too large to be seconds, then milliseconds.
    return (value, 1) if value >= 100_000_000_000 else (value * 1000, 1000)


def parse_settlements_page(body: Any) -> tuple[list[Settlement], str]:
    what = "Settlement"
    o = obj(body, "GetSettlementsResponse")
    settlements = [
        Settlement(
            ticker=req(s, "ticker", str, what),
            result=req(s, "market_result", str, what),
            settled_ms=time_ms(s, "settled_time", what),
        )
        for s in items(o, "settlements", "GetSettlementsResponse")
    ]
    return settlements, cursor(o, "settlements")


def parse_queue_positions(body: Any) -> list[QueuePosition]:
    what = "OrderQueuePosition"
    o = obj(body, "GetOrderQueuePositionsResponse")
    return [
        QueuePosition(
            order_id=req(q, "order_id", str, what),
            ticker=req(q, "market_ticker", str, what),
            ahead=units(q, "queue_position_fp", parse_count, what),
        )
        for q in items(o, "queue_positions", "GetOrderQueuePositionsResponse")
    ]


# ---- exchange, markets, books, trades -----------------------------------------------------------

def parse_exchange_status(body: Any) -> ExchangeStatus:
    what = "ExchangeStatus"
    o = obj(body, what)
    resume = opt_time_ms(o, "exchange_estimated_resume_time", what)
    return ExchangeStatus(
        exchange_active=req(o, "exchange_active", bool, what),
        trading_active=req(o, "trading_active", bool, what),
        resume_ms=resume or None,
    )


def parse_account_limits(body: Any) -> Tier:
    """``GET /account/limits`` -> the account's real token buckets as a Tier."""
    what = "GetAccountApiLimitsResponse"
    o = obj(body, what)
    read, write = obj(o.get("read"), what + ".read"), obj(o.get("write"), what + ".write")
    try:
        return tier_from_limits(
            req(o, "usage_tier", str, what),
            req(read, "refill_rate", int, what), req(read, "bucket_capacity", int, what),
            req(write, "refill_rate", int, what), req(write, "bucket_capacity", int, what))
    except ValueError as exc:
        raise WireFormatError(f"{what}: {exc}") from exc


def parse_endpoint_costs(body: Any) -> CostTable:
    """``GET /account/endpoint_costs`` -> the costs that differ from the default, as a table."""
    what = "GetAccountEndpointCostsResponse"
    o = obj(body, what)
    listed = [(req(i, "method", str, what), req(i, "path", str, what), req(i, "cost", int, what))
              for i in items(o, "endpoint_costs", what)]
    try:
        return costs_from_exchange(req(o, "default_cost", int, what), listed)
    except ValueError as exc:
        raise WireFormatError(f"{what}: {exc}") from exc


def parse_user_data_timestamp(body: Any) -> TsMs:
    return time_ms(obj(body, "GetUserDataTimestampResponse"), "as_of_time",
                   "GetUserDataTimestampResponse")


def parse_market(o: Mapping[str, Any]) -> MarketRules:
    what = "Market"
    ranges = tuple(
        PriceRange(
            start=units(r, "start", parse_price, "PriceRange"),
            end=units(r, "end", parse_price, "PriceRange"),
            step=units(r, "step", parse_price, "PriceRange"),
        )
        for r in items(o, "price_ranges", what)
    )
    if not ranges:
        raise WireFormatError(f"Market {o.get('ticker')!r}: empty price_ranges")
    return MarketRules(
        ticker=req(o, "ticker", str, what),
        status=_market_status(req(o, "status", str, what)),
        close_time_ms=time_ms(o, "close_time", what),
        price_ranges=ranges,
        price_level_structure=req(o, "price_level_structure", str, what),
        fractional_trading=opt(o, "fractional_trading_enabled", bool, what, False),
        event_ticker=req(o, "event_ticker", str, what),
        result=opt(o, "result", str, what, ""),
    )


def parse_markets_page(body: Any) -> tuple[list[MarketRules], str]:
    o = obj(body, "GetMarketsResponse")
    markets = [parse_market(m) for m in items(o, "markets", "GetMarketsResponse")]
    return markets, cursor(o, "markets")


def parse_orderbooks(body: Any) -> dict[str, OrderBook]:
    what = "GetMarketOrderbooksResponse"
    books = {}
    for entry in items(obj(body, what), "orderbooks", what):
        ticker = req(entry, "ticker", str, "MarketOrderbookFp")
        book = req(entry, "orderbook_fp", dict, "MarketOrderbookFp")
        books[ticker] = parse_orderbook(ticker, book)
    return books


def parse_orderbook(ticker: str, book: Mapping[str, Any]) -> OrderBook:
    """Bids are YES bids; asks derive from NO bids (YES ask = $1 - NO bid, same size)."""
    yes_bids = _levels(book, "yes_dollars")
    no_bids = _levels(book, "no_dollars")
    bids = sorted(yes_bids, key=lambda level: -level.price)
    asks = sorted((Level(ONE_DOLLAR - lv.price, lv.count) for lv in no_bids),
                  key=lambda level: level.price)
    return OrderBook(ticker, tuple(bids), tuple(asks))


def _levels(book: Mapping[str, Any], name: str) -> list[Level]:
    what = f"OrderbookCountFp.{name}"
    if name not in book:
        raise WireFormatError(f"OrderbookCountFp: missing required field {name!r}")
    levels = []
    for pair in book[name] or []:
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(x, str) for x in pair)):
            raise WireFormatError(f"{what}: expected [price, count] strings, got {pair!r}")
        try:
            levels.append(Level(parse_price(pair[0]), parse_count(pair[1])))
        except UnitError as exc:
            raise WireFormatError(f"{what}: {exc}") from exc
    return levels


def parse_trades_page(body: Any) -> tuple[list[PublicTrade], str]:
    what = "Trade"
    o = obj(body, "GetTradesResponse")
    trades = [
        PublicTrade(
            trade_id=req(t, "trade_id", str, what),
            ticker=req(t, "ticker", str, what),
            price=units(t, "yes_price_dollars", parse_price, what),
            count=units(t, "count_fp", parse_count, what),
            taker_side=enum(t, "taker_book_side", Side, what),
            ts_ms=time_ms(t, "created_time", what),
        )
        for t in items(o, "trades", "GetTradesResponse")
    ]
    return trades, cursor(o, "trades")


# ---- order groups -------------------------------------------------------------------------------

def parse_group_created(body: Any) -> str:
    return req(obj(body, "CreateOrderGroupResponse"), "order_group_id", str,
               "CreateOrderGroupResponse")


def parse_groups(body: Any) -> list[OrderGroup]:
    what = "OrderGroup"
    o = obj(body, "GetOrderGroupsResponse")
    raw = o.get("order_groups") or []
    return [
        OrderGroup(
            group_id=req(g, "id", str, what),
            contracts_limit=opt_units(g, "contracts_limit_fp", parse_count, what),
            auto_cancel_enabled=req(g, "is_auto_cancel_enabled", bool, what),
        )
        for g in (obj(item, what) for item in raw)
    ]


def parse_group(group_id: str, body: Any) -> OrderGroup:
    what = "GetOrderGroupResponse"
    o = obj(body, what)
    order_ids = req(o, "orders", list, what)
    if not all(isinstance(order_id, str) for order_id in order_ids):
        raise WireFormatError(f"{what}: orders should be a list of order id strings")
    return OrderGroup(
        group_id=group_id,
        contracts_limit=opt_units(o, "contracts_limit_fp", parse_count, what),
        auto_cancel_enabled=req(o, "is_auto_cancel_enabled", bool, what),
        order_ids=tuple(order_ids),
    )


def _market_status(raw: str) -> MarketStatus:
    """A status Kalshi adds later must not stop the bot: it only makes the market untradable."""
    try:
        return MarketStatus(raw)
    except ValueError:
        return MarketStatus.UNKNOWN
