"""One market's YES book: price levels in price-time priority.

Each side maps price -> Level; a Level keeps its orders in arrival order (dict insertion order)
and their total remaining size. Sorted price lists (bisect) give the best level in O(1) and
level insertion/removal in O(levels).
"""

from __future__ import annotations

from bisect import bisect_left, insort

from dora.core.models import Side
from dora.core.units import Count, Price
from dora.sim.engine.orders import LiveOrder


class Level:
    __slots__ = ("orders", "total")

    def __init__(self) -> None:
        self.orders: dict[str, LiveOrder] = {}
        self.total: Count = 0

    def head(self) -> LiveOrder:
        return next(iter(self.orders.values()))


class Book:
    __slots__ = ("_levels", "_prices")

    def __init__(self) -> None:
        self._levels: dict[Side, dict[Price, Level]] = {Side.BID: {}, Side.ASK: {}}
        self._prices: dict[Side, list[Price]] = {Side.BID: [], Side.ASK: []}  # ascending

    def add(self, order: LiveOrder) -> None:
        """Rest ``order`` at the back of its price level."""
        levels = self._levels[order.side]
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = Level()
            insort(self._prices[order.side], order.price)
        level.orders[order.order_id] = order
        level.total += order.remaining

    def remove(self, order: LiveOrder) -> None:
        levels = self._levels[order.side]
        level = levels[order.price]
        del level.orders[order.order_id]
        level.total -= order.remaining
        if not level.orders:
            del levels[order.price]
            prices = self._prices[order.side]
            del prices[bisect_left(prices, order.price)]

    def shrink(self, order: LiveOrder, by: Count) -> None:
        """Account for ``by`` fewer contracts on a resting order (call before changing it)."""
        self._levels[order.side][order.price].total -= by

    def best_price(self, side: Side) -> Price | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side is Side.BID else prices[0]

    def best_level(self, side: Side) -> Level | None:
        price = self.best_price(side)
        return None if price is None else self._levels[side][price]

    def depth(self, side: Side) -> list[tuple[Price, Count]]:
        """Aggregated (price, size) levels, best first."""
        prices = self._prices[side]
        ordered = reversed(prices) if side is Side.BID else iter(prices)
        levels = self._levels[side]
        return [(price, levels[price].total) for price in ordered]

    def crossing_levels(self, side: Side, limit: Price) -> list[Level]:
        """Levels of ``side`` an opposite order limited at ``limit`` could hit, best first."""
        prices = self._prices[side]
        levels = self._levels[side]
        if side is Side.ASK:
            return [levels[p] for p in prices[: bisect_left(prices, limit + 1)]]
        return [levels[p] for p in reversed(prices[bisect_left(prices, limit):])]

    def ahead_of(self, order: LiveOrder) -> Count:
        """Contracts resting before ``order`` at its own price level."""
        ahead = 0
        for other in self._levels[order.side][order.price].orders.values():
            if other is order:
                return ahead
            ahead += other.remaining
        raise KeyError(order.order_id)

    def orders(self) -> list[LiveOrder]:
        return [o for side in (Side.BID, Side.ASK)
                for level in self._levels[side].values() for o in level.orders.values()]
