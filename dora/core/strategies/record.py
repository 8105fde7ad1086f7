"""What the strategy saw and why it priced as it did: the book summary, the fair value choice and
the per-decision :class:`PriceRecord` written to the decision log. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from dora.core.fair_value import FairValue, micro_price, mid_price, trades_fair_value
from dora.core.market_config import MarketConfig
from dora.core.models import OrderBook, PublicTrade, TsMs
from dora.core.units import Count, Price


@dataclass(frozen=True, slots=True)
class BookSummary:
    best_bid: Price | None
    best_ask: Price | None
    bid_size: Count
    ask_size: Count
    spread: Price | None  # None unless both sides exist
    mid: Price | None  # rounded down; None unless both sides exist


def summarize_book(book: OrderBook) -> BookSummary:
    bid = book.bids[0] if book.bids else None
    ask = book.asks[0] if book.asks else None
    if bid is None or ask is None:
        return BookSummary(
            bid.price if bid else None, ask.price if ask else None,
            bid.count if bid else 0, ask.count if ask else 0, None, None,
        )
    return BookSummary(
        bid.price, ask.price, bid.count, ask.count, ask.price - bid.price,
        mid_price(bid.price, ask.price),
    )


def choose_fair_value(
    config: MarketConfig, book: BookSummary, trades: Sequence[PublicTrade], now_ms: TsMs
) -> FairValue:
    """Configured fair value, else the configured source (trades -> last trade -> mid)."""
    if config.fair_value is not None:
        return FairValue(config.fair_value, "config")
    bid, ask = book.best_bid, book.best_ask
    if config.fair_value_source == "microprice" and bid is not None and ask is not None:
        return FairValue(micro_price(bid, book.bid_size, ask, book.ask_size), "microprice")
    if config.fair_value_source == "trades":
        fair = trades_fair_value(trades, now_ms)
        if fair.price is not None:
            return fair
    if book.mid is not None:
        return FairValue(book.mid, "mid")
    return FairValue(None, "none")


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """How a decision was reached. Prices are Price units ($0.0001); ``skew`` is exact, in Price
    units, positive when long (it lowers both prices). ``mode``: normal | exit_only |
    volatility_exit | volatility_gate | "" (decided before pricing). ``*_rule`` names the rule
    that set the level-0 price of that side (see :mod:`dora.core.pricing`), "" when not quoted."""

    book: BookSummary
    position: Count = 0
    fair_value: Price | None = None
    fv_source: str = ""
    fv_trades: int = 0
    skew: Fraction = Fraction(0)
    volatility: Price | None = None  # population std-dev, rounded down
    volatility_prices: int = 0
    gate_threshold: Price | None = None
    gated: bool = False
    mode: str = ""
    bid_price: Price | None = None
    bid_rule: str = ""
    ask_price: Price | None = None
    ask_rule: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: ints, strings, booleans, None; the skew as a decimal-free "num/den"."""
        b = self.book
        return {
            "best_bid": b.best_bid, "best_ask": b.best_ask, "bid_size": b.bid_size,
            "ask_size": b.ask_size, "spread": b.spread, "mid": b.mid,
            "position": self.position, "fair_value": self.fair_value,
            "fv_source": self.fv_source, "fv_trades": self.fv_trades, "skew": str(self.skew),
            "volatility": self.volatility, "volatility_prices": self.volatility_prices,
            "gate_threshold": self.gate_threshold, "gated": self.gated, "mode": self.mode,
            "bid_price": self.bid_price, "bid_rule": self.bid_rule,
            "ask_price": self.ask_price, "ask_rule": self.ask_rule,
        }
