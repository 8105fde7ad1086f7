"""The resting orders grouped by market, once per cycle. Pure.

A cycle looks at each market's orders several times: the book without dora's own size, the diff,
the risk and cash checks. :class:`RestingIndex` groups the resting set in one pass, and works out
each market's figures the first time they are asked for. Built with last cycle's index, a market
whose orders equal last cycle's (by value, in the same order) takes over last cycle's figures: a
market where nothing changed costs one comparison.

"Live" orders are those that hold a place in the book: status resting and something left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from dora.core.models import OrderStatus, RestingOrder, Side
from dora.core.strategies.base import OwnSizes
from dora.core.units import Count, Price

_RESTING = OrderStatus.RESTING


class _Own(NamedTuple):
    orders: list[RestingOrder]
    live: list[RestingOrder]
    sizes: dict[tuple[Side, Price], Count]


class MarketOrders:
    """One market's resting orders (everyone's: an operator's manual orders count toward the
    account's limits) and figures worked out from them on first use."""

    __slots__ = ("_live_totals", "_own", "_prefix", "orders")

    def __init__(self, orders: list[RestingOrder], id_prefix: str) -> None:
        self.orders = orders
        self._prefix = id_prefix
        self._own: _Own | None = None
        self._live_totals: tuple[Count, Count] | None = None

    def own(self) -> list[RestingOrder]:
        """dora's orders here (by client order id prefix), whatever their status."""
        return (self._own or self._sort_own()).orders

    def own_live(self) -> list[RestingOrder]:
        """dora's live orders here: the ones the diff matches against targets."""
        return (self._own or self._sort_own()).live

    def own_sizes(self) -> OwnSizes:
        """dora's live contracts at each (side, price): what comes off the book's levels."""
        return (self._own or self._sort_own()).sizes

    def _sort_own(self) -> _Own:
        prefix = self._prefix
        own: list[RestingOrder] = []
        live: list[RestingOrder] = []
        sizes: dict[tuple[Side, Price], Count] = {}
        for order in self.orders:
            if order.client_order_id.startswith(prefix):
                own.append(order)
                if order.status is _RESTING and order.remaining > 0:
                    live.append(order)
                    key = (order.side, order.price)
                    sizes[key] = sizes.get(key, 0) + order.remaining
        self._own = _Own(own, live, sizes)
        return self._own

    def live_totals(self) -> tuple[Count, Count]:
        """Live contracts on the bid side and on the ask side, everyone's orders."""
        if self._live_totals is None:
            bids = asks = 0
            for order in self.orders:
                if order.status is _RESTING and order.remaining > 0:
                    if order.side is Side.BID:
                        bids += order.remaining
                    else:
                        asks += order.remaining
            self._live_totals = (bids, asks)
        return self._live_totals


_NO_ORDERS = MarketOrders([], "")


class RestingIndex:
    def __init__(
        self, resting: Sequence[RestingOrder], id_prefix: str,
        previous: RestingIndex | None = None,
    ) -> None:
        """``previous``: last cycle's index (same prefix), whose figures an unchanged market
        takes over."""
        self.resting = resting
        self.id_prefix = id_prefix
        grouped: dict[str, list[RestingOrder]] = {}
        for order in resting:
            group = grouped.get(order.ticker)
            if group is None:
                grouped[order.ticker] = [order]
            else:
                group.append(order)
        before = previous._markets if previous and previous.id_prefix == id_prefix else {}
        self._markets: dict[str, MarketOrders] = {}
        self._unchanged: set[str] = set()
        for ticker, orders in grouped.items():
            old = before.get(ticker)
            if old is not None and old.orders == orders:
                self._markets[ticker] = old
                self._unchanged.add(ticker)
            else:
                self._markets[ticker] = MarketOrders(orders, id_prefix)

    def market(self, ticker: str) -> MarketOrders:
        return self._markets.get(ticker, _NO_ORDERS)

    def tickers(self) -> Iterable[str]:
        return self._markets.keys()

    def unchanged(self, ticker: str) -> bool:
        """The market's orders equal last cycle's (a market with none never counts as such)."""
        return ticker in self._unchanged

    def own(self) -> dict[str, list[RestingOrder]]:
        """dora's orders by market (markets where dora has none left out)."""
        return {t: own for t, m in self._markets.items() if (own := m.own())}
