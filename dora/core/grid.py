"""A market's tick grid as a sorted table of valid prices, for fast snapping and stepping. Pure.

Same semantics as :mod:`dora.core.ticks` (valid = strictly inside (0, $1) and on some range's grid),
but each distinct ``price_ranges`` tuple is expanded once (at most 9,999 prices) and then every
lookup is a bisection, which keeps 1,000 markets * several levels cheap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from functools import lru_cache

from dora.core.models import PriceRange
from dora.core.units import ONE_DOLLAR, Price


@lru_cache(maxsize=64)
def valid_prices(ranges: tuple[PriceRange, ...]) -> tuple[Price, ...]:
    prices: set[Price] = set()
    for r in ranges:
        prices.update(p for p in range(r.start, r.end + 1, r.step) if 0 < p < ONE_DOLLAR)
    return tuple(sorted(prices))


@lru_cache(maxsize=64)
def valid_price_set(ranges: tuple[PriceRange, ...]) -> frozenset[Price]:
    """The same prices as :func:`valid_prices`, for membership tests."""
    return frozenset(valid_prices(ranges))


def snap_down(grid: tuple[Price, ...], price: Price) -> Price | None:
    """The largest valid price <= ``price``."""
    i = bisect_right(grid, price)
    return grid[i - 1] if i else None


def snap_up(grid: tuple[Price, ...], price: Price) -> Price | None:
    """The smallest valid price >= ``price``."""
    i = bisect_left(grid, price)
    return grid[i] if i < len(grid) else None


def ticks_below(grid: tuple[Price, ...], price: Price, ticks: int = 1) -> Price | None:
    """The valid price ``ticks`` grid steps strictly below ``price`` (``ticks`` >= 1)."""
    i = bisect_left(grid, price) - ticks
    return grid[i] if i >= 0 else None


def ticks_above(grid: tuple[Price, ...], price: Price, ticks: int = 1) -> Price | None:
    """The valid price ``ticks`` grid steps strictly above ``price`` (``ticks`` >= 1)."""
    i = bisect_right(grid, price) + ticks - 1
    return grid[i] if i < len(grid) else None


def ladder_down(grid: tuple[Price, ...], top: Price, spacing: int, count: int) -> tuple[Price, ...]:
    """``top`` then ``ticks_below(grid, top, k * spacing)`` for k = 1 .. count - 1, stopping where
    the grid ends: one bisection and one slice for the whole ladder (``spacing`` >= 1)."""
    start = bisect_left(grid, top) - spacing
    if start < 0 or count < 2:
        return (top,)
    stop = start - (count - 1) * spacing  # exclusive; below index 0 the slice runs to the start
    return (top, *grid[start : stop if stop >= 0 else None : -spacing])


def ladder_up(grid: tuple[Price, ...], top: Price, spacing: int, count: int) -> tuple[Price, ...]:
    """``top`` then ``ticks_above(grid, top, k * spacing)`` for k = 1 .. count - 1, stopping where
    the grid ends (``spacing`` >= 1)."""
    if count < 2:
        return (top,)
    start = bisect_right(grid, top) - 1 + spacing
    return (top, *grid[start : start + (count - 1) * spacing : spacing])
