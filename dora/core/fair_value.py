"""Fair value and trade volatility from public trades and the book. Pure.

Prices are integer ``Price`` units ($0.0001). The trade-weighted average uses weights
√size * 2^(-age/12 h); those weights are irrational, so they are computed as floats (they are
dimensionless and never touch money directly). The weighted price is then rounded to the nearest
Price unit, halves up, and that integer is the fair value. The volatility gate compares the
population variance with the threshold squared in exact integers, so no square root decides it.

The decay every weight shares cancels out of the average, so each weight is computed from the
trade's age relative to the youngest trade used: the fair value is then exactly a function of
which trades are in the window, and as the clock moves it changes only when a trade leaves the
window (:func:`trades_valid_until`), which lets dora reuse a decision between such moments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter, mul

from dora.core.models import PublicTrade, TsMs
from dora.core.units import ONE_CONTRACT, Count, Price

HOUR_MS = 3_600_000
FV_WINDOW_MS = 24 * HOUR_MS
FV_HALF_LIFE_MS = 12 * HOUR_MS
FV_MAX_TRADES = 5
VOL_RECENT_TRADES = 5
VOL_WINDOW_MS = 12 * HOUR_MS
VOL_MIN_PRICES = 2
VOL_GATE_MIN: Price = 300
VOL_GATE_MAX: Price = 800


@dataclass(frozen=True, slots=True)
class FairValue:
    price: Price | None
    source: str  # config | wma_24h | last_trade | mid | microprice | none
    trades_used: int = 0


def usable_trades(trades: Sequence[PublicTrade]) -> list[PublicTrade]:
    """Newest first, single-contract prints (count <= 1 contract) dropped. A trade stamped after
    our clock is kept (clock skew): its age counts as zero."""
    kept = [t for t in trades if t.count > ONE_CONTRACT]
    kept.sort(key=_by_time, reverse=True)  # stable: equal times keep their input order
    return kept


_by_time = attrgetter("ts_ms")


def weighted_trade_price(trades: Sequence[PublicTrade], now_ms: TsMs) -> tuple[Price, int] | None:
    """Weighted average of up to the 5 newest trades of the last 24 h (``trades`` newest first)."""
    recent = [t for t in trades[:FV_MAX_TRADES] if now_ms - t.ts_ms <= FV_WINDOW_MS]
    if not recent:
        return None
    ages = [max(now_ms - t.ts_ms, 0) for t in recent]  # a future trade: age 0
    youngest = min(ages)
    total_weight = 0.0
    weighted = 0.0
    sqrt = math.sqrt
    for trade, age in zip(recent, ages, strict=True):
        weight = sqrt(trade.count / ONE_CONTRACT) * 2.0 ** ((youngest - age) / FV_HALF_LIFE_MS)
        total_weight += weight
        weighted += weight * trade.price
    if total_weight <= 0.0:
        return None
    return math.floor(weighted / total_weight + 0.5), len(recent)


def mid_price(best_bid: Price, best_ask: Price) -> Price:
    """The book mid, rounded down to a Price unit."""
    return (best_bid + best_ask) // 2


def micro_price(best_bid: Price, bid_size: Count, best_ask: Price, ask_size: Count) -> Price:
    """Size-weighted top of book (leans toward the thinner side), rounded half up, exact ints."""
    total = bid_size + ask_size
    if total <= 0:
        return mid_price(best_bid, best_ask)
    numerator = best_bid * ask_size + best_ask * bid_size
    return (2 * numerator + total) // (2 * total)


def trades_fair_value(trades: Sequence[PublicTrade], now_ms: TsMs) -> FairValue:
    """WMA of the last 24 h, else the last trade ever seen; ``trades`` usable, newest first."""
    wma = weighted_trade_price(trades, now_ms)
    if wma is not None:
        return FairValue(wma[0], "wma_24h", wma[1])
    if trades:
        return FairValue(trades[0].price, "last_trade", 1)
    return FairValue(None, "none")


def volatility_sample(trades: Sequence[PublicTrade], now_ms: TsMs) -> list[Price]:
    """The larger of the last 5 trades and the trades of the last 12 h (``trades`` newest first)."""
    if len(trades) > VOL_RECENT_TRADES:
        in_window = [t.price for t in trades if now_ms - t.ts_ms <= VOL_WINDOW_MS]
        if len(in_window) > VOL_RECENT_TRADES:
            return in_window
    return [t.price for t in trades[:VOL_RECENT_TRADES]]


def trades_valid_until(
    trades: Sequence[PublicTrade], now_ms: TsMs, *, fair_value: bool
) -> TsMs | None:
    """Until when :func:`volatility_sample` (and, with ``fair_value``, the trades' fair value)
    of these trades (usable, newest first) stays the same as the clock moves: the first moment
    a trade leaves a window. None: never. A trade stamped in the future moves the fair value's
    weights with the clock, so with one among them the answer is the next millisecond."""
    leaving: list[TsMs] = []
    if fair_value:
        for trade in trades[:FV_MAX_TRADES]:
            age = now_ms - trade.ts_ms
            if age < 0:
                return now_ms + 1
            if age <= FV_WINDOW_MS:
                leaving.append(trade.ts_ms + FV_WINDOW_MS + 1)
    if len(trades) > VOL_RECENT_TRADES:
        leaving.extend(t.ts_ms + VOL_WINDOW_MS + 1 for t in trades
                       if now_ms - t.ts_ms <= VOL_WINDOW_MS)
    return min(leaving) if leaving else None


def variance_scaled(prices: Sequence[Price]) -> int:
    """n² * population variance, exactly: n·Σp² - (Σp)²."""
    n = len(prices)
    total = sum(prices)
    squares: int = sum(map(mul, prices, prices))
    return n * squares - total * total


def exceeds_std_dev(scaled_variance: int | None, n: int, threshold: Price) -> bool:
    """Population std-dev > threshold, decided exactly as n²·var > n²·threshold².

    ``scaled_variance`` is :func:`variance_scaled` of the n prices (None: too few prices)."""
    if scaled_variance is None or n < VOL_MIN_PRICES:
        return False
    return scaled_variance > n * n * threshold * threshold


def std_dev_floor(scaled_variance: int | None, n: int) -> Price | None:
    """Population std-dev rounded down to a Price unit, for the decision record only."""
    if scaled_variance is None or n < VOL_MIN_PRICES:
        return None
    return math.isqrt(scaled_variance) // n


def gate_threshold(book_spread: Price | None) -> Price:
    """clamp(book spread, 0.03, 0.08); with no two-sided book the strict end (0.03) applies."""
    if book_spread is None or book_spread <= VOL_GATE_MIN:
        return VOL_GATE_MIN
    return VOL_GATE_MAX if book_spread >= VOL_GATE_MAX else book_spread
