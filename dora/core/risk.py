"""Per-order risk checks on a plan, and halt decisions. Pure: decisions and reasons, no effects.

``check_plan`` runs the same checks in batch and per-market mode. The exposure it counts is the
account's resting set after the plan's cancels and decreases (every resting order counts, an
operator's manual ones included: the caps are about the account), plus the places approved so far.
Per market, with B/A the resting bid/ask contracts, the worst cases if every order there filled
are: long ``net + B`` (capped by ``max_inventory_yes``) and short ``A - net`` (capped by
``max_inventory_no``); only orders that push a worst case up count against a cap, so orders that
reduce the position always fit. Global exposure is the sum over markets of max(long, short)
worst cases. Cash: a bid reserves its price per contract, an ask $1 minus its price, except the
contracts the opposite position surely still covers (:func:`dora.core.ledger.collateral`; the
ledger's ``maybe_closed`` contracts may have been closed by fills not read yet), and an order that
may take liquidity (not post-only) also its largest possible taker fee; cash committed after the
plan must fit in ``available_cash`` (the ledger's free cash) plus what the resting set reserves
now (cancels free it, they are sent first), and an order that needs cash must leave
``cash_reserve`` of it free. Cancels and decreases always pass.

Markets in ``closing`` are being walked out of by the exit policy: there a place must be on the
reducing side, and dora's orders on that side may never add up to more than the position, so a
close can never open the opposite position. Such a close needs no valid or enabled config (it may
close a market that was disabled or removed) and no reserve, but still stops for
``trading_enabled`` false and for a halt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from dora.core.diff import Plan
from dora.core.fees import taker_fee_bound
from dora.core.ledger import collateral, covering
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import OrderRequest, OrderStatus, PositionState, RestingOrder, RiskState, Side
from dora.core.positions import DAILY_LOSS_HALT_PREFIX
from dora.core.units import Count, Micros, Price, format_count, format_micros


@dataclass(frozen=True, slots=True)
class RiskContext:
    global_config: GlobalConfig
    configs: Mapping[str, MarketConfig]
    positions: Mapping[str, PositionState]
    resting: Sequence[RestingOrder]
    available_cash: Micros
    halted: bool
    elsewhere_exposure: Count = 0  # the other shards' worst cases (docs/architecture.md#shards)
    closing: Mapping[str, Side] = field(default_factory=dict)  # market -> its reducing side
    cash_reserve: Micros = 0
    maybe_closed: Mapping[str, Count] = field(default_factory=dict)  # see ledger.MaybeClosed


@dataclass(frozen=True, slots=True)
class Rejection:
    request: OrderRequest
    reason: str


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
        self.total = sum(m.exposure() for m in self.markets.values()) + ctx.elsewhere_exposure
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


def worst_case_exposure(
    positions: Mapping[str, PositionState], resting: Sequence[RestingOrder]
) -> Count:
    """The exposure ``check_plan`` counts for these positions and resting orders: per market the
    larger worst case (every bid filled, or every ask), summed."""
    markets = {t: _Market(p.net) for t, p in positions.items()}
    for order in resting:
        if order.status is OrderStatus.RESTING and order.remaining > 0:
            markets.setdefault(order.ticker, _Market()).add(order.side, order.price,
                                                            order.remaining)
    return sum(m.exposure() for m in markets.values())


def _over(code: str, what: str, worst: Count, cap: Count) -> str:
    return (f"{code}: {what} worst case {format_count(worst)} contracts "
            f"> cap {format_count(cap)}")


def check_plan(plan: Plan, ctx: RiskContext) -> tuple[Plan, tuple[Rejection, ...]]:
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


@dataclass(frozen=True, slots=True)
class HaltDecision:
    halt: bool
    reason: str


def evaluate_halt(
    risk: RiskState, unrealized: Micros, config: GlobalConfig, consecutive_errors: int,
    elsewhere_pnl: Micros = 0,
) -> HaltDecision:
    """Manual halt flag, then the daily loss (realized + unrealized, plus the other shards' as
    they last saved it), then consecutive errors."""
    if risk.trading_halted:
        return HaltDecision(True, risk.halt_reason or "manual_halt")
    pnl = risk.daily_pnl + unrealized + elsewhere_pnl
    if pnl < -config.max_daily_loss:
        others = f" + other shards {format_micros(elsewhere_pnl)}" if elsewhere_pnl else ""
        return HaltDecision(True, (
            f"{DAILY_LOSS_HALT_PREFIX}: realized {format_micros(risk.daily_pnl)} + unrealized "
            f"{format_micros(unrealized)}{others} below -{format_micros(config.max_daily_loss)}"
        ))
    if consecutive_errors >= config.max_consecutive_errors:
        return HaltDecision(True, (
            f"consecutive_errors: {consecutive_errors} >= {config.max_consecutive_errors}"
        ))
    return HaltDecision(False, "")
