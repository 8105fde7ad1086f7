"""Required response fields per Kalshi's OpenAPI schema 3.34, copied by hand,
and format checks for the fixed-point strings."""

from __future__ import annotations

import re
from typing import Any

REQUIRED: dict[str, frozenset[str]] = {
    "CreateOrderV2Response": frozenset({"order_id", "fill_count", "remaining_count", "ts_ms"}),
    "BatchCreateOrdersV2Response": frozenset({"orders"}),
    "BatchCancelOrdersV2Response": frozenset({"orders"}),
    "BatchCancelOrdersV2ResponseOrdersInner": frozenset({"order_id", "reduced_by"}),
    "CancelOrderV2Response": frozenset({"order_id", "reduced_by", "ts_ms"}),
    "AmendOrderV2Response": frozenset({"order_id", "ts_ms"}),
    "DecreaseOrderV2Response": frozenset({"order_id", "remaining_count", "ts_ms"}),
    "GetOrdersResponse": frozenset({"orders", "cursor"}),
    "GetOrderResponse": frozenset({"order"}),
    "Order": frozenset({
        "order_id", "user_id", "client_order_id", "ticker", "outcome_side", "book_side", "type",
        "status", "yes_price_dollars", "no_price_dollars", "fill_count_fp", "remaining_count_fp",
        "initial_count_fp", "taker_fill_cost_dollars", "maker_fill_cost_dollars",
        "taker_fees_dollars", "maker_fees_dollars",
    }),
    "GetFillsResponse": frozenset({"fills", "cursor"}),
    "Fill": frozenset({
        "fill_id", "exchange_index", "trade_id", "order_id", "ticker", "market_ticker",
        "outcome_side", "book_side", "count_fp", "yes_price_dollars", "no_price_dollars",
        "is_taker", "fee_cost",
    }),
    "GetPositionsResponse": frozenset({"market_positions", "event_positions"}),
    "MarketPosition": frozenset({
        "ticker", "exchange_index", "total_traded_dollars", "position_fp",
        "market_exposure_dollars", "realized_pnl_dollars", "fees_paid_dollars", "last_updated_ts",
    }),
    "EventPosition": frozenset({
        "event_ticker", "total_cost_dollars", "total_cost_shares_fp", "event_exposure_dollars",
        "realized_pnl_dollars", "fees_paid_dollars",
    }),
    "GetBalanceResponse": frozenset({
        "balance", "balance_dollars", "portfolio_value", "updated_ts",
    }),
    "IndexedBalance": frozenset({"exchange_index", "balance"}),
    "GetOrderQueuePositionsResponse": frozenset({"queue_positions"}),
    "OrderQueuePosition": frozenset({"order_id", "market_ticker", "queue_position_fp"}),
    "GetSettlementsResponse": frozenset({"settlements"}),
    "Settlement": frozenset({
        "ticker", "exchange_index", "event_ticker", "market_result", "yes_count_fp",
        "yes_total_cost_dollars", "no_count_fp", "no_total_cost_dollars", "revenue",
        "settled_time", "fee_cost",
    }),
    "GetMarketsResponse": frozenset({"markets", "cursor"}),
    "GetMarketResponse": frozenset({"market"}),
    "Market": frozenset({
        "ticker", "event_ticker", "market_type", "yes_sub_title", "no_sub_title", "created_time",
        "updated_time", "open_time", "close_time", "latest_expiration_time",
        "settlement_timer_seconds", "status", "yes_bid_dollars", "yes_bid_size_fp",
        "yes_ask_dollars", "yes_ask_size_fp", "no_bid_dollars", "no_ask_dollars",
        "last_price_dollars", "volume_fp", "volume_24h_fp", "result", "can_close_early",
        "open_interest_fp", "notional_value_dollars", "previous_yes_bid_dollars",
        "previous_yes_ask_dollars", "previous_price_dollars", "settlement_bounds_type",
        "expiration_value", "rules_primary", "rules_secondary", "price_level_structure",
        "price_ranges",
    }),
    "GetTradesResponse": frozenset({"trades", "cursor"}),
    "Trade": frozenset({
        "trade_id", "ticker", "count_fp", "yes_price_dollars", "no_price_dollars",
        "taker_outcome_side", "taker_book_side", "created_time", "is_block_trade",
    }),
    "PriceRange": frozenset({"start", "end", "step"}),
    "GetMarketOrderbookResponse": frozenset({"orderbook_fp"}),
    "GetMarketOrderbooksResponse": frozenset({"orderbooks"}),
    "MarketOrderbookFp": frozenset({"ticker", "orderbook_fp"}),
    "OrderbookCountFp": frozenset({"yes_dollars", "no_dollars"}),
    "CreateOrderGroupResponse": frozenset({"order_group_id", "subaccount"}),
    "OrderGroup": frozenset({"id", "is_auto_cancel_enabled"}),
    "GetOrderGroupResponse": frozenset({"is_auto_cancel_enabled", "orders"}),
    "ExchangeStatus": frozenset({"exchange_active", "trading_active"}),
    "GetUserDataTimestampResponse": frozenset({"as_of_time"}),
    "GetAccountApiLimitsResponse": frozenset({"usage_tier", "read", "write"}),
    "BucketLimit": frozenset({"refill_rate", "bucket_capacity"}),
    "GetAccountEndpointCostsResponse": frozenset({"default_cost", "endpoint_costs"}),
    "EndpointTokenCost": frozenset({"method", "path", "cost"}),
}

DOLLARS = re.compile(r"^-?\d+\.\d{4}(\d{2})?$")
COUNT = re.compile(r"^-?\d+\.\d{2}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def check_shape(obj: Any, schema: str) -> None:
    """Every required field is present, and fixed-point/time fields are well formed."""
    assert isinstance(obj, dict), f"{schema}: not an object: {obj!r}"
    missing = REQUIRED[schema] - set(obj)
    assert not missing, f"{schema} lacks {sorted(missing)}"
    for name, value in obj.items():
        if value is None or isinstance(value, list | dict):
            continue
        if name.endswith("_dollars") or name in {"fee_cost", "average_fill_price"}:
            assert isinstance(value, str) and DOLLARS.match(value), f"{schema}.{name}={value!r}"
        elif name.endswith("_fp") or name in {"fill_count", "remaining_count", "reduced_by"}:
            assert isinstance(value, str) and COUNT.match(value), f"{schema}.{name}={value!r}"
        elif name.endswith("_time") or name == "last_updated_ts":
            assert isinstance(value, str) and RFC3339.match(value), f"{schema}.{name}={value!r}"
