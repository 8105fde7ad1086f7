"""Hand-written Kalshi V2 JSON payloads (Kalshi's V2 schema) for `responses`-based tests."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def order(order_id: str, client_order_id: str, *, ticker: str = "MKT-A", side: str = "bid",
          price: str = "0.4200", remaining: str = "10.00", filled: str = "0.00",
          status: str = "resting") -> Json:
    return {
        "order_id": order_id, "user_id": "u1", "client_order_id": client_order_id,
        "ticker": ticker, "outcome_side": "yes" if side == "bid" else "no", "book_side": side,
        "type": "limit", "status": status, "yes_price_dollars": price,
        "no_price_dollars": "0.5800", "fill_count_fp": filled, "remaining_count_fp": remaining,
        "initial_count_fp": "10.00", "taker_fill_cost_dollars": "0.0000",
        "maker_fill_cost_dollars": "0.0000", "taker_fees_dollars": "0.0000",
        "maker_fees_dollars": "0.0000", "created_time": "2026-01-01T00:00:01.500Z",
        "last_update_time": "2026-01-01T00:00:01.500Z",
        "self_trade_prevention_type": "taker_at_cross", "order_group_id": None,
    }


def fill(fill_id: str, *, order_id: str = "o1", ts: str = "2026-01-01T00:00:05Z") -> Json:
    return {
        "fill_id": fill_id, "trade_id": fill_id, "exchange_index": 0, "order_id": order_id,
        "ticker": "MKT-A", "market_ticker": "MKT-A", "outcome_side": "yes", "book_side": "bid",
        "count_fp": "2.00", "yes_price_dollars": "0.4200", "no_price_dollars": "0.5800",
        "is_taker": False, "fee_cost": "0.0035", "created_time": ts,
    }


def created(order_id: str, client_order_id: str, *, filled: str = "0.00",
            remaining: str = "10.00") -> Json:
    return {"order_id": order_id, "client_order_id": client_order_id, "fill_count": filled,
            "remaining_count": remaining, "ts_ms": 1_767_225_600_123, "error": None}


def item_error(code: str, message: str, **ids: str) -> Json:
    return {**ids, "error": {"code": code, "message": message}}


def cancelled(order_id: str, reduced_by: str = "10.00") -> Json:
    return {"order_id": order_id, "client_order_id": f"c-{order_id}", "reduced_by": reduced_by,
            "ts_ms": 1_767_225_600_456, "error": None}


def market(ticker: str, *, status: str = "active", structure: str = "tapered_deci_cent") -> Json:
    return {
        "ticker": ticker, "event_ticker": "EVT", "market_type": "binary", "status": status,
        "close_time": "2026-01-02T00:00:00Z", "price_level_structure": structure,
        "price_ranges": [
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ],
        "fractional_trading_enabled": False, "result": "",
    }


def error_body(code: str, message: str) -> Json:
    return {"error": {"code": code, "message": message, "service": "exchange"}}
