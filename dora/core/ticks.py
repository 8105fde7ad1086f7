"""A market's tick grid (``price_ranges``): validity, snapping and stepping. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from dora.core.models import PriceRange, SnapDirection
from dora.core.units import ONE_DOLLAR, Price


def is_valid_price(ranges: Sequence[PriceRange], price: Price) -> bool:
    """True when ``price`` is strictly inside (0, $1) and lies on the grid."""
    if not 0 < price < ONE_DOLLAR:
        return False
    return any(r.start <= price <= r.end and (price - r.start) % r.step == 0 for r in ranges)


def snap_price(
    ranges: Sequence[PriceRange], price: Price, direction: SnapDirection
) -> Price | None:
    """The nearest valid price at or below (DOWN) / at or above (UP) ``price``; None if none."""
    if is_valid_price(ranges, price):
        return price
    return next_tick(ranges, price, direction)


def next_tick(ranges: Sequence[PriceRange], price: Price, direction: SnapDirection) -> Price | None:
    """The nearest valid price strictly below (DOWN) / strictly above (UP) ``price``."""
    candidates = (_neighbour(r, price, direction) for r in ranges)
    valid = [p for p in candidates if p is not None and 0 < p < ONE_DOLLAR]
    if not valid:
        return None
    return max(valid) if direction is SnapDirection.DOWN else min(valid)


def _neighbour(r: PriceRange, price: Price, direction: SnapDirection) -> Price | None:
    if direction is SnapDirection.DOWN:
        if price <= r.start:
            return None
        top = min(price - 1, r.end)
        return r.start + (top - r.start) // r.step * r.step
    if price >= r.end:
        return None
    bottom = max(price + 1, r.start)
    return r.start + -(-(bottom - r.start) // r.step) * r.step
