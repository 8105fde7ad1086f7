"""Market data records -> Kalshi V2 JSON: markets, public trades, order books. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dora.core.models import PriceRange
from dora.core.units import ONE_DOLLAR, Count, Price, format_count, format_price
from dora.sim.engine.records import SimMarket, SimTrade
from dora.sim.http.wire import EXCHANGE_INDEX, JsonObject, outcome_side, rfc3339

SETTLEMENT_TIMER_S = 60
LATEST_EXPIRATION_AFTER_CLOSE_MS = 7 * 24 * 3600 * 1000
NOTIONAL_VALUE = ONE_DOLLAR

BookLevels = Sequence[tuple[Price, Count]]


@dataclass(frozen=True, slots=True)
class MarketActivity:
    """Figures derived from the public tape rather than the market record."""

    volume_24h: Count = 0
    previous_price: Price | None = None  # last trade price as of 24 h ago


def market_json(market: SimMarket, activity: MarketActivity) -> JsonObject:
    body: JsonObject = {
        **_descriptive_fields(market),
        "created_time": rfc3339(market.created_ms),
        "updated_time": rfc3339(market.updated_ms),
        "open_time": rfc3339(market.open_ms),
        "close_time": rfc3339(market.close_ms),
        "expected_expiration_time": rfc3339(market.close_ms),
        "latest_expiration_time": rfc3339(market.close_ms + LATEST_EXPIRATION_AFTER_CLOSE_MS),
        "settlement_timer_seconds": SETTLEMENT_TIMER_S,
        "status": market.status.value,
        **_quote_fields(market),
        "last_price_dollars": _price_or_zero(market.last_price),
        "previous_yes_bid_dollars": format_price(0),
        "previous_yes_ask_dollars": format_price(0),
        "previous_price_dollars": _price_or_zero(activity.previous_price),
        "volume_fp": format_count(market.volume),
        "volume_24h_fp": format_count(activity.volume_24h),
        "open_interest_fp": format_count(0),
        "liquidity_dollars": format_price(0),
        "notional_value_dollars": format_price(NOTIONAL_VALUE),
        "result": market.result,
        "can_close_early": False,
        "fractional_trading_enabled": market.fractional,
        "expiration_value": "",
        "settlement_bounds_type": "default",  # no settlement bounds
        "price_level_structure": market.price_level_structure,
        "price_ranges": [_price_range(r) for r in market.price_ranges],
        "is_provisional": False,
        "exchange_index": EXCHANGE_INDEX,
    }
    if market.settled_ms is not None:
        body["settlement_ts"] = rfc3339(market.settled_ms)
        body["settlement_value_dollars"] = _settlement_value(market)
    return body


def _descriptive_fields(market: SimMarket) -> JsonObject:
    return {
        "ticker": market.ticker,
        "event_ticker": market.event_ticker,
        "market_type": "binary",
        "title": f"Simulated market {market.ticker}",
        "subtitle": "",
        "yes_sub_title": "Yes",
        "no_sub_title": "No",
        "rules_primary": f"Resolves to the simulator's declared result for {market.ticker}.",
        "rules_secondary": "",
    }


def _price_range(segment: PriceRange) -> JsonObject:
    return {
        "start": format_price(segment.start),
        "end": format_price(segment.end),
        "step": format_price(segment.step),
    }


def _quote_fields(market: SimMarket) -> JsonObject:
    """Top of book; an empty side shows as bid 0 / ask 1, as Kalshi does."""
    yes_bid = market.best_bid if market.best_bid is not None else 0
    yes_ask = market.best_ask if market.best_ask is not None else ONE_DOLLAR
    return {
        "yes_bid_dollars": format_price(yes_bid),
        "yes_bid_size_fp": format_count(market.best_bid_size if market.best_bid is not None else 0),
        "yes_ask_dollars": format_price(yes_ask),
        "yes_ask_size_fp": format_count(market.best_ask_size if market.best_ask is not None else 0),
        "no_bid_dollars": format_price(ONE_DOLLAR - yes_ask),
        "no_ask_dollars": format_price(ONE_DOLLAR - yes_bid),
    }


def _price_or_zero(price: Price | None) -> str:
    return format_price(price if price is not None else 0)


def _settlement_value(market: SimMarket) -> str:
    return format_price(ONE_DOLLAR if market.result == "yes" else 0)


def trade_json(trade: SimTrade) -> JsonObject:
    return {
        "trade_id": trade.trade_id,
        "ticker": trade.ticker,
        "count_fp": format_count(trade.count),
        "yes_price_dollars": format_price(trade.price),
        "no_price_dollars": format_price(ONE_DOLLAR - trade.price),
        "taker_side": outcome_side(trade.taker_side),
        "taker_outcome_side": outcome_side(trade.taker_side),
        "taker_book_side": trade.taker_side.value,
        "created_time": rfc3339(trade.ts_ms),
        "is_block_trade": False,
    }


def orderbook_fp_json(bids: BookLevels, asks: BookLevels, depth: int = 0) -> JsonObject:
    """Bids only on each side, ascending, best last. A YES ask at p is a NO bid at 1 - p.

    ``bids``/``asks`` are the engine's YES-frame levels, best first. ``depth`` 0 means all.
    """
    yes_levels = list(bids[:depth] if depth else bids)
    no_levels = [(ONE_DOLLAR - p, c) for p, c in (asks[:depth] if depth else asks)]
    return {
        "yes_dollars": [_level(p, c) for p, c in reversed(yes_levels)],
        "no_dollars": [_level(p, c) for p, c in reversed(no_levels)],
    }


def _level(price: Price, count: Count) -> list[str]:
    return [format_price(price), format_count(count)]


def single_orderbook_json(book: JsonObject) -> JsonObject:
    return {"orderbook_fp": book}


def orderbooks_json(books: Sequence[tuple[str, JsonObject]]) -> JsonObject:
    return {"orderbooks": [{"ticker": ticker, "orderbook_fp": book} for ticker, book in books]}
