"""Resting orders vs target quotes -> a plan of cancels, decreases and places. Pure.

Per managed market, dora's orders (client_order_id starting with ``id_prefix``) are grouped by
(side, price) and matched against the target size at that price, oldest order first:

- orders that fit inside the target are kept untouched (queue priority is money);
- the order that straddles the target is decreased to the rest (a decrease keeps priority);
  any order after it is cancelled;
- if dora's total there is below the target, the shortfall is placed as a top-up order while the
  partially filled orders stay, unless the shortfall is below ``min_order_size``: then the orders
  there are cancelled and the full target is placed again (the "replace" reading: a crumb
  top-up is not worth an order of its own, one clean order is);
- orders at prices with no target are cancelled; targets with no order are placed.

Orders in markets outside ``managed`` are cancelled. Orders without the prefix (an operator's
manual orders) are never cancelled nor decreased, and never count toward a target.

An immediate target (the exit policy's urgent close) is never matched: it becomes an
immediate-or-cancel, reduce-only order of its own every time, and nothing of it rests afterwards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from dora.core.models import OrderRequest, RestingOrder, Side, TimeInForce
from dora.core.resting_index import MarketOrders, RestingIndex
from dora.core.strategies.base import TargetQuote
from dora.core.units import Count, Price

CLIENT_ORDER_ID_MAX = 64
_CLIENT_ORDER_ID_CHARS = re.compile(r"^[A-Za-z0-9_\-:+=/]*$")
_TICKER_HASH_HEX = 10


@dataclass(frozen=True, slots=True)
class Decrease:
    order: RestingOrder
    reduce_to: Count

    def __post_init__(self) -> None:
        if not 0 < self.reduce_to < self.order.remaining:
            raise ValueError(f"reduce_to {self.reduce_to} must be in (0, {self.order.remaining})")


@dataclass(frozen=True, slots=True)
class Plan:
    cancels: tuple[RestingOrder, ...] = ()
    decreases: tuple[Decrease, ...] = ()
    places: tuple[OrderRequest, ...] = ()
    kept: tuple[RestingOrder, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.cancels or self.decreases or self.places)


def client_order_id(id_prefix: str, id_salt: str, target: TargetQuote) -> str:
    """``<prefix><salt>-<ticker hash>-<tag>``: deterministic, unique per (salt, ticker, side,
    level, kind), at most 64 characters of Kalshi's client_order_id alphabet. The tag is
    ``b<level>``/``a<level>`` for a quote, ``cb``/``ca`` for a resting close and ``xb``/``xa``
    for an immediate close."""
    _check_id_parts(id_prefix, id_salt)
    return _format_id(id_prefix, id_salt, _ticker_digest(target.ticker), target)


def _check_id_parts(id_prefix: str, id_salt: str) -> None:
    """The prefix and salt are checked once per plan; the digest and tag are made of letters,
    digits and ``-`` anyway, so only each id's length is left to check."""
    if not _CLIENT_ORDER_ID_CHARS.match(id_prefix + id_salt):
        raise ValueError(f"client_order_id prefix/salt {id_prefix + id_salt!r}: bad characters")


def _ticker_digest(ticker: str) -> str:
    return hashlib.blake2b(ticker.encode(), digest_size=8).hexdigest()[:_TICKER_HASH_HEX]


def _format_id(id_prefix: str, id_salt: str, digest: str, target: TargetQuote) -> str:
    side = "b" if target.side is Side.BID else "a"
    kind = ("x" if target.immediate else "c") if target.close else ""
    tag = f"{kind}{side}" if kind else f"{side}{target.level}"
    value = f"{id_prefix}{id_salt}-{digest}-{tag}"
    if len(value) > CLIENT_ORDER_ID_MAX:
        raise ValueError(f"client_order_id {value!r}: prefix/salt too long")
    return value


class _Builder:
    def __init__(self, id_prefix: str, id_salt: str, min_order_size: Count) -> None:
        _check_id_parts(id_prefix, id_salt)
        self.prefix = id_prefix
        self.salt = id_salt
        self.min_order_size = min_order_size
        self.cancels: list[RestingOrder] = []
        self.decreases: list[Decrease] = []
        self.places: list[OrderRequest] = []
        self.kept: list[RestingOrder] = []

    def place(self, target: TargetQuote, count: Count, digest: str) -> None:
        client_id = _format_id(self.prefix, self.salt, digest, target)
        if target.immediate:
            self.places.append(OrderRequest(
                target.ticker, target.side, target.price, count, client_id,
                time_in_force=TimeInForce.IOC, post_only=False, reduce_only=True,
            ))
            return
        self.places.append(OrderRequest(target.ticker, target.side, target.price, count,
                                        client_id))

    def match(self, orders: list[RestingOrder], target: TargetQuote, digest: str) -> None:
        """Orders (oldest first) at the target's side and price -> keep/decrease/cancel/top-up."""
        if len(orders) == 1 and orders[0].remaining == target.size:
            self.kept.append(orders[0])
            return
        held = 0
        for order in orders:
            room = target.size - held
            if order.remaining <= room:
                self.kept.append(order)
                held += order.remaining
            elif room > 0:
                self.decreases.append(Decrease(order, room))
                held += room
            else:
                self.cancels.append(order)
        shortfall = target.size - held
        if shortfall <= 0:
            return
        if shortfall >= self.min_order_size:
            self.place(target, shortfall, digest)
            return
        # Below the target every order here was kept whole; replace them with one full order.
        del self.kept[-len(orders):]
        self.cancels.extend(orders)
        self.place(target, target.size, digest)

    def market(self, ticker: str, targets: Sequence[TargetQuote], market: MarketOrders) -> None:
        """One managed market: its targets against dora's live orders there."""
        quotes = _merge_targets([t for t in targets if not t.immediate])
        live = market.own_live()
        if len(quotes) == len(targets) and market.own_sizes() == {
                (t.side, t.price): t.size for t in quotes}:
            self.kept.extend(live)  # every order fits its target exactly: nothing to do
            return
        digest = _ticker_digest(ticker)
        for target in targets:
            if target.immediate:
                self.place(target, target.size, digest)
        own = _by_side_and_price(live)
        for target in quotes:
            at_price = own.pop((target.side, target.price), None)
            if at_price is None:
                self.place(target, target.size, digest)
                continue
            if len(at_price) > 1:
                at_price.sort(key=_age)
            self.match(at_price, target, digest)
        for leftovers in own.values():  # no target at that price
            self.cancels.extend(leftovers)

    def plan(self) -> Plan:
        return Plan(tuple(self.cancels), tuple(self.decreases), tuple(self.places),
                    tuple(self.kept))


def diff_orders(
    resting: Sequence[RestingOrder],
    targets: Mapping[str, Sequence[TargetQuote]],
    *,
    managed: Collection[str],
    id_prefix: str,
    id_salt: str,
    min_order_size: Count = 100,
) -> Plan:
    if not id_prefix:
        raise ValueError("id_prefix must not be empty: it is what keeps manual orders safe")
    return diff_index(RestingIndex(resting, id_prefix), targets, managed=managed,
                      id_salt=id_salt, min_order_size=min_order_size)


def diff_index(
    index: RestingIndex,
    targets: Mapping[str, Sequence[TargetQuote]],
    *,
    managed: Collection[str],
    id_salt: str,
    min_order_size: Count = 100,
) -> Plan:
    """:func:`diff_orders` over resting orders already grouped by market (with dora's prefix)."""
    if not index.id_prefix:
        raise ValueError("id_prefix must not be empty: it is what keeps manual orders safe")
    builder = _Builder(index.id_prefix, id_salt, min_order_size)
    done: set[str] = set()
    for ticker in sorted(targets):
        if ticker in managed:
            builder.market(ticker, targets[ticker], index.market(ticker))
            done.add(ticker)
    for ticker in index.tickers():  # no targets there, or the market is not managed
        if ticker not in done:
            builder.cancels.extend(index.market(ticker).own_live())
    return builder.plan()


def diff_market(
    index: RestingIndex, ticker: str, targets: Sequence[TargetQuote], *, id_salt: str,
    min_order_size: Count = 100,
) -> Plan:
    """One managed market's plan: its targets against dora's orders there, nothing else."""
    if not index.id_prefix:
        raise ValueError("id_prefix must not be empty: it is what keeps manual orders safe")
    builder = _Builder(index.id_prefix, id_salt, min_order_size)
    builder.market(ticker, targets, index.market(ticker))
    return builder.plan()


def _age(order: RestingOrder) -> tuple[int, str]:
    return order.created_ms, order.order_id


def _by_side_and_price(
    orders: Sequence[RestingOrder],
) -> dict[tuple[Side, Price], list[RestingOrder]]:
    grouped: dict[tuple[Side, Price], list[RestingOrder]] = {}
    for order in orders:
        key = (order.side, order.price)
        group = grouped.get(key)
        if group is None:
            grouped[key] = [order]
        else:
            group.append(order)
    return grouped


def _merge_targets(targets: Sequence[TargetQuote]) -> Sequence[TargetQuote]:
    """One target per (side, price): sizes add up, the nearest level names it."""
    merged: dict[tuple[Side, Price], TargetQuote] = {}
    for target in targets:
        key = (target.side, target.price)
        seen = merged.get(key)
        if seen is None:
            merged[key] = target
        else:
            merged[key] = seen._replace(size=seen.size + target.size,
                                        level=min(seen.level, target.level))
    return list(merged.values())
