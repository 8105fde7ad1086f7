"""Decision-log records in the shape the predecessor's dashboard reads
(docs/compatibility.md#decision-log). Pure.

Prices and sizes are exact Decimals in dollars / contracts; dora's own extra fields (rules that set
each price, volatility gate) ride along under ``price_calc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from dora.core.exit_policy import CloseIntent
from dora.core.models import Level, OrderBook, PublicTrade
from dora.core.strategies.base import QuoteDecision
from dora.core.timefmt import iso_ms
from dora.core.units import Count, Price, count_to_decimal, micros_to_decimal, price_to_decimal

RECENT_TRADES_IN_RECORD = 3
TOP_LEVELS_IN_RECORD = 3


def decision_signature(
    decision: QuoteDecision, close: CloseIntent | None = None
) -> tuple[object, ...]:
    """What must change for a new decision record to be written."""
    targets = tuple((t.side, t.price, t.size, t.level, t.immediate) for t in decision.targets)
    closing = (close.reason, close.reasons, close.price) if close is not None else ()
    return (decision.reason, targets, closing)


def decision_record(
    decision: QuoteDecision, run_id: str, decision_id: str, book_levels: OrderBook | None,
    trades: Sequence[PublicTrade], net: Count, version: str, *,
    close: CloseIntent | None = None, strategy: str = "",
) -> dict[str, Any]:
    """``strategy``: the strategy that proposed the quotes ("" when none ran); ``close``: the
    exit policy's intent when it replaced them (``position_close``)."""
    record = _record(decision, run_id, decision_id, book_levels, trades, net, version)
    if strategy:
        record["strategy"] = strategy
    if close is not None:
        record["position_close"] = close_record(close)
    return record


def close_record(close: CloseIntent) -> dict[str, Any]:
    return {
        "reason": close.reason, "reasons": list(close.reasons), "side": close.side.value,
        "size": count_to_decimal(close.size), "price": _price(close.price),
        "immediate": close.immediate, "reference": _price(close.reference),
        "unrealized_pnl": (micros_to_decimal(close.unrealized)
                           if close.unrealized is not None else None),
        "detail": close.detail,
    }


def _record(
    decision: QuoteDecision, run_id: str, decision_id: str, book_levels: OrderBook | None,
    trades: Sequence[PublicTrade], net: Count, version: str,
) -> dict[str, Any]:
    record = decision.record
    book = record.book
    newest = sorted(trades, key=lambda t: t.ts_ms, reverse=True)[:RECENT_TRADES_IN_RECORD]
    return {
        "market_id": decision.ticker,
        "decision_id": decision_id,
        "bot_run_id": run_id,
        "bot_version": version,
        "reason": decision.reason,
        "order_book_snapshot": {
            "best_bid": _price(book.best_bid),
            "best_ask": _price(book.best_ask),
            "spread": _price(book.spread),
            "mid": _price(book.mid),
            "top_bids": _levels(book_levels.bids if book_levels else ()),
            "top_asks": _levels(book_levels.asks if book_levels else ()),
        },
        "recent_trades": [
            {"price": price_to_decimal(t.price), "size": count_to_decimal(t.count),
             "timestamp": iso_ms(t.ts_ms)}
            for t in newest
        ],
        "inventory": {"net_yes_qty": count_to_decimal(net)},
        "price_calc": _price_calc(decision, newest[0] if newest else None),
        "target_quotes": [
            {"side": t.side.value, "price": price_to_decimal(t.price),
             "size": count_to_decimal(t.size), "level": t.level,
             **({"close": t.close, "immediate": t.immediate} if t.close else {})}
            for t in decision.targets
        ],
        "num_targets": len(decision.targets),
    }


def _levels(levels: Sequence[Level]) -> list[dict[str, Decimal]]:
    """The best few levels, best first, as the predecessor's ``top_bids`` / ``top_asks``."""
    return [{"price": price_to_decimal(lv.price), "size": count_to_decimal(lv.count)}
            for lv in levels[:TOP_LEVELS_IN_RECORD]]


def _price_calc(decision: QuoteDecision, last_trade: PublicTrade | None) -> dict[str, Any]:
    r = decision.record
    return {
        "skew": _price(r.skew.numerator // r.skew.denominator) if r.skew else Decimal(0),
        "best_bid": _price(r.book.best_bid),
        "best_ask": _price(r.book.best_ask),
        "market_bid": _price(r.book.best_bid),
        "market_ask": _price(r.book.best_ask),
        "fair_value": _price(r.fair_value),
        "fv_source": r.fv_source,
        "wma_price": _price(r.fair_value) if r.fv_source == "wma_24h" else None,
        "wma_trades_count": r.fv_trades,
        "last_trade_price": _price(last_trade.price) if last_trade else None,
        "last_trade_time": iso_ms(last_trade.ts_ms) if last_trade else None,
        "trade_std_dev": _price(r.volatility),
        "volatility_trades_count": r.volatility_prices,
        "volatility_threshold": _price(r.gate_threshold),
        "volatility_gated": r.gated,
        "logic": r.mode,
        "bid_price": _price(r.bid_price),
        "bid_rule": r.bid_rule,
        "ask_price": _price(r.ask_price),
        "ask_rule": r.ask_rule,
    }


def _price(price: Price | None) -> Decimal | None:
    return None if price is None else price_to_decimal(price)
