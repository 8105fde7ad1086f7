"""The pure core's diff and per-order risk checks as they were before they were made fast
(issue 15): kept only as the oracle the property tests compare the fast versions with. Not used
by dora itself."""

# ruff: noqa
from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dora.core.diff import Decrease, Plan
from dora.core.fees import taker_fee_bound
from dora.core.ledger import collateral, covering
from dora.core.market_config import MarketConfig
from dora.core.models import OrderRequest, OrderStatus, RestingOrder, Side, TimeInForce
from dora.core.risk import Rejection, RiskContext
from dora.core.strategies.base import TargetQuote
from dora.core.units import Count, Micros, Price, format_count, format_micros

CLIENT_ORDER_ID_MAX = 64
_CLIENT_ORDER_ID_CHARS = re.compile(r"^[A-Za-z0-9_\-:+=/]+$")
_TICKER_HASH_HEX = 10


def _ticker_digest(ticker: str) -> str:
    return hashlib.blake2b(ticker.encode(), digest_size=8).hexdigest()[:_TICKER_HASH_HEX]


def _format_id(id_prefix: str, id_salt: str, digest: str, target: TargetQuote) -> str:
    side = "b" if target.side is Side.BID else "a"
    kind = ("x" if target.immediate else "c") if target.close else ""
    tag = f"{kind}{side}" if kind else f"{side}{target.level}"
    value = f"{id_prefix}{id_salt}-{digest}-{tag}"
    if len(value) > CLIENT_ORDER_ID_MAX or not _CLIENT_ORDER_ID_CHARS.match(value):
        raise ValueError(f"client_order_id {value!r}: prefix/salt too long or bad characters")
    return value


class _Builder:
    def __init__(self, id_prefix: str, id_salt: str, min_order_size: Count) -> None:
        self.prefix = id_prefix
        self.salt = id_salt
        self.min_order_size = min_order_size
        self.cancels: list[RestingOrder] = []
        self.decreases: list[Decrease] = []
        self.places: list[OrderRequest] = []
        self.kept: list[RestingOrder] = []
        self._digests: dict[str, str] = {}

    def place(self, target: TargetQuote, count: Count) -> None:
        digest = self._digests.get(target.ticker)
        if digest is None:
            digest = self._digests[target.ticker] = _ticker_digest(target.ticker)
        client_id = _format_id(self.prefix, self.salt, digest, target)
        if target.immediate:
            self.places.append(OrderRequest(
                target.ticker, target.side, target.price, count, client_id,
                time_in_force=TimeInForce.IOC, post_only=False, reduce_only=True,
            ))
            return
        self.places.append(OrderRequest(target.ticker, target.side, target.price, count,
                                        client_id))

    def match(self, orders: list[RestingOrder], target: TargetQuote) -> None:
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
            self.place(target, shortfall)
            return
        # Below the target every order here was kept whole; replace them with one full order.
        del self.kept[-len(orders):]
        self.cancels.extend(orders)
        self.place(target, target.size)

    def plan(self) -> Plan:
        return Plan(tuple(self.cancels), tuple(self.decreases), tuple(self.places),
                    tuple(self.kept))


def reference_diff_orders(
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
    builder = _Builder(id_prefix, id_salt, min_order_size)
    own = _own_orders_by_key(resting, id_prefix)
    for ticker in sorted(targets):
        if ticker not in managed:
            continue
        for target in targets[ticker]:
            if target.immediate:
                builder.place(target, target.size)
        for target in _merge_targets([t for t in targets[ticker] if not t.immediate]):
            at_price = own.pop((ticker, target.side, target.price), None)
            if at_price is None:
                builder.place(target, target.size)
                continue
            if len(at_price) > 1:
                at_price.sort(key=_age)
            builder.match(at_price, target)
    for leftovers in own.values():  # no target at that price, or the market is not managed
        builder.cancels.extend(leftovers)
    return builder.plan()


def _age(order: RestingOrder) -> tuple[int, str]:
    return order.created_ms, order.order_id


def _own_orders_by_key(
    resting: Sequence[RestingOrder], id_prefix: str
) -> dict[tuple[str, Side, Price], list[RestingOrder]]:
    own: dict[tuple[str, Side, Price], list[RestingOrder]] = {}
    resting_status = OrderStatus.RESTING
    for order in resting:
        if (
            order.client_order_id.startswith(id_prefix)
            and order.status is resting_status
            and order.remaining > 0
        ):
            key = (order.ticker, order.side, order.price)
            group = own.get(key)
            if group is None:
                own[key] = [order]
            else:
                group.append(order)
    return own


def _merge_targets(targets: Sequence[TargetQuote]) -> Collection[TargetQuote]:
    """One target per (side, price): sizes add up, the nearest level names it."""
    merged: dict[tuple[Side, Price], TargetQuote] = {}
    for target in targets:
        key = (target.side, target.price)
        seen = merged.get(key)
        if seen is None:
            merged[key] = target
        else:
            merged[key] = TargetQuote(target.ticker, target.side, target.price,
                                      seen.size + target.size, min(seen.level, target.level))
    return merged.values()


@dataclass
class _Market:
    net: Count = 0
    bids: list[tuple[Price, Count]] = field(default_factory=list)
    asks: list[tuple[Price, Count]] = field(default_factory=list)
    cover: Count = 0  # the part of ``net`` that surely still covers orders (ledger.covering)

    def long_worst(self, extra: Count = 0) -> Count:
        return self.net + sum(c for _, c in self.bids) + extra

    def short_worst(self, extra: Count = 0) -> Count:
        return sum(c for _, c in self.asks) - self.net + extra

    def exposure(self) -> Count:
        return max(self.long_worst(), self.short_worst(), 0)

    def collateral(self) -> Micros:
        return collateral(self.cover, self.bids, self.asks)

    def add(self, side: Side, price: Price, count: Count) -> None:
        (self.bids if side is Side.BID else self.asks).append((price, count))

    def resting(self, side: Side) -> Count:
        return sum(c for _, c in (self.bids if side is Side.BID else self.asks))


class _Exposure:
    """The account's markets after the plan's cancels and decreases, updated as places pass."""

    def __init__(self, ctx: RiskContext, plan: Plan) -> None:
        self.markets: dict[str, _Market] = {}
        for ticker, position in ctx.positions.items():
            market = self._market(ticker)
            market.net = position.net
            market.cover = covering(position.net, ctx.maybe_closed.get(ticker, 0))
        before = self._orders(ctx.resting, {}, set())
        reserved_now = sum(m.collateral() for m in before.values())
        gone = {o.order_id for o in plan.cancels}
        reduced = {d.order.order_id: d.reduce_to for d in plan.decreases}
        self.markets = self._orders(ctx.resting, reduced, gone)
        self.total = sum(m.exposure() for m in self.markets.values())
        committed = sum(m.collateral() for m in self.markets.values())
        self.free_cash: Micros = ctx.available_cash + reserved_now - committed

    def _orders(
        self, resting: Sequence[RestingOrder], reduced: Mapping[str, Count], gone: set[str]
    ) -> dict[str, _Market]:
        markets = {t: _Market(m.net, cover=m.cover) for t, m in self.markets.items()}
        for order in resting:
            if order.status is not OrderStatus.RESTING or order.order_id in gone:
                continue
            count = reduced.get(order.order_id, order.remaining)
            if count > 0:
                markets.setdefault(order.ticker, _Market()).add(order.side, order.price, count)
        return markets

    def _market(self, ticker: str) -> _Market:
        return self.markets.setdefault(ticker, _Market())

    def check(
        self, request: OrderRequest, config: MarketConfig, cap_total: Count, reserve: Micros
    ) -> str:
        market = self._market(request.ticker)
        if request.side is Side.BID:
            worst = market.long_worst(request.count)
            if worst > config.max_inventory_yes:
                return _over("max_inventory_yes", "long", worst, config.max_inventory_yes)
        else:
            worst = market.short_worst(request.count)
            if worst > config.max_inventory_no:
                return _over("max_inventory_no", "short", worst, config.max_inventory_no)
        grown = self._with(market, request)
        added = grown.exposure() - market.exposure()
        if added > 0 and self.total + added > cap_total:
            return _over("max_total_exposure", "account", self.total + added, cap_total)
        return self._cash_problem(self._cash(market, grown, request), reserve)

    def check_close(self, request: OrderRequest, reducing: Side) -> str:
        market = self._market(request.ticker)
        if request.side is not reducing:
            return f"closing: a {request.side} adds to the position being closed"
        after = market.resting(reducing) + request.count
        if after > abs(market.cover):
            return (f"closing: {format_count(after)} contracts to close > position "
                    f"{format_count(abs(market.cover))}")
        return self._cash_problem(self._cash(market, self._with(market, request), request), 0)

    def _cash_problem(self, cash: Micros, reserve: Micros) -> str:
        if cash > 0 and cash > self.free_cash - reserve:
            kept = f" keeping the ${format_micros(reserve)} reserve" if reserve else ""
            return (f"insufficient_cash: needs ${format_micros(cash)}, "
                    f"free ${format_micros(self.free_cash)}{kept}")
        return ""

    @staticmethod
    def _cash(market: _Market, grown: _Market, request: OrderRequest) -> Micros:
        fees = 0 if request.post_only else taker_fee_bound(request.side, request.price,
                                                           request.count)
        return grown.collateral() - market.collateral() + fees

    def approve(self, request: OrderRequest) -> None:
        market = self._market(request.ticker)
        grown = self._with(market, request)
        self.total += grown.exposure() - market.exposure()
        self.free_cash -= self._cash(market, grown, request)
        self.markets[request.ticker] = grown

    @staticmethod
    def _with(market: _Market, request: OrderRequest) -> _Market:
        grown = _Market(market.net, list(market.bids), list(market.asks), market.cover)
        grown.add(request.side, request.price, request.count)
        return grown


def _over(code: str, what: str, worst: Count, cap: Count) -> str:
    return (f"{code}: {what} worst case {format_count(worst)} contracts "
            f"> cap {format_count(cap)}")


def reference_check_plan(plan: Plan, ctx: RiskContext) -> tuple[Plan, tuple[Rejection, ...]]:
    """Per-order checks, in plan order; approved orders count toward the later checks."""
    exposure = _Exposure(ctx, plan)
    approved: list[OrderRequest] = []
    rejections: list[Rejection] = []
    for request in plan.places:
        reason = _check(request, ctx, exposure)
        if reason:
            rejections.append(Rejection(request, reason))
            continue
        exposure.approve(request)
        approved.append(request)
    return replace(plan, places=tuple(approved)), tuple(rejections)


def _check(request: OrderRequest, ctx: RiskContext, exposure: _Exposure) -> str:
    if not ctx.global_config.trading_enabled:
        return "trading_disabled"
    if ctx.halted:
        return "halted"
    reducing = ctx.closing.get(request.ticker)
    if reducing is not None:
        return exposure.check_close(request, reducing)
    config = ctx.configs.get(request.ticker)
    if config is None:
        return "no_valid_config"
    if not config.enabled:
        return "market_disabled"
    return exposure.check(request, config, ctx.global_config.max_total_exposure,
                          ctx.cash_reserve)

