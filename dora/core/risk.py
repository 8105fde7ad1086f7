"""Per-order risk checks on a plan, and halt decisions. Pure: decisions and reasons, no effects.

``check_plan`` runs the same checks in batch and per-market mode. The exposure it counts is the
account's resting set after the plan's cancels and decreases (every resting order counts, an
operator's manual ones included: the caps are about the account), plus the places approved so far.
Per market, with B/A the resting bid/ask contracts, the worst cases if every order there filled
are: long ``net + B`` (capped by ``max_inventory_yes``) and short ``A - net`` (capped by
``max_inventory_no``); only orders that push a worst case up count against a cap, so orders that
reduce the position always fit. Global exposure is the sum over markets of max(long, short)
worst cases. Cash: a bid reserves its price per contract, an ask $1 minus its price, except the
contracts the opposite position covers (applied to the most expensive reservations first); cash
committed after the plan must fit in ``available_cash`` (free balance) plus what the resting set
reserves now (cancels free it, they are sent first). Cancels and decreases always pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dora.core.diff import Plan
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import OrderRequest, OrderStatus, PositionState, RestingOrder, RiskState, Side
from dora.core.positions import DAILY_LOSS_HALT_PREFIX
from dora.core.units import ONE_DOLLAR, Count, Micros, Price, format_count, format_micros


@dataclass(frozen=True, slots=True)
class RiskContext:
    global_config: GlobalConfig
    configs: Mapping[str, MarketConfig]
    positions: Mapping[str, PositionState]
    resting: Sequence[RestingOrder]
    available_cash: Micros
    halted: bool
    elsewhere_exposure: Count = 0  # the other shards' worst cases (docs/architecture.md#shards)


@dataclass(frozen=True, slots=True)
class Rejection:
    request: OrderRequest
    reason: str


@dataclass
class _Market:
    net: Count = 0
    bids: list[tuple[Price, Count]] = field(default_factory=list)
    asks: list[tuple[Price, Count]] = field(default_factory=list)

    def long_worst(self, extra: Count = 0) -> Count:
        return self.net + sum(c for _, c in self.bids) + extra

    def short_worst(self, extra: Count = 0) -> Count:
        return sum(c for _, c in self.asks) - self.net + extra

    def exposure(self) -> Count:
        return max(self.long_worst(), self.short_worst(), 0)

    def collateral(self) -> Micros:
        bids = sorted(self.bids, reverse=True)
        asks = sorted(self.asks)
        return (_reserved(bids, max(-self.net, 0), lambda p: p)
                + _reserved(asks, max(self.net, 0), lambda p: ONE_DOLLAR - p))

    def add(self, side: Side, price: Price, count: Count) -> None:
        (self.bids if side is Side.BID else self.asks).append((price, count))


def _reserved(
    orders: list[tuple[Price, Count]], covered: Count, per_contract: Callable[[Price], Price]
) -> Micros:
    total: Micros = 0
    for price, count in orders:
        free = min(covered, count)
        covered -= free
        total += per_contract(price) * (count - free)
    return total


class _Exposure:
    """The account's markets after the plan's cancels and decreases, updated as places pass."""

    def __init__(self, ctx: RiskContext, plan: Plan) -> None:
        self.markets: dict[str, _Market] = {}
        for ticker, position in ctx.positions.items():
            self._market(ticker).net = position.net
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
        markets = {t: _Market(m.net) for t, m in self.markets.items()}
        for order in resting:
            if order.status is not OrderStatus.RESTING or order.order_id in gone:
                continue
            count = reduced.get(order.order_id, order.remaining)
            if count > 0:
                markets.setdefault(order.ticker, _Market()).add(order.side, order.price, count)
        return markets

    def _market(self, ticker: str) -> _Market:
        return self.markets.setdefault(ticker, _Market())

    def check(self, request: OrderRequest, config: MarketConfig, cap_total: Count) -> str:
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
        cash = grown.collateral() - market.collateral()
        if cash > 0 and cash > self.free_cash:
            return (f"insufficient_cash: needs ${format_micros(cash)}, "
                    f"free ${format_micros(self.free_cash)}")
        return ""

    def approve(self, request: OrderRequest) -> None:
        market = self._market(request.ticker)
        grown = self._with(market, request)
        self.total += grown.exposure() - market.exposure()
        self.free_cash -= grown.collateral() - market.collateral()
        self.markets[request.ticker] = grown

    @staticmethod
    def _with(market: _Market, request: OrderRequest) -> _Market:
        grown = _Market(market.net, list(market.bids), list(market.asks))
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
        reason = _gate(request, ctx)
        config = ctx.configs.get(request.ticker)
        if not reason and config is not None:
            reason = exposure.check(request, config, ctx.global_config.max_total_exposure)
        if reason:
            rejections.append(Rejection(request, reason))
            continue
        exposure.approve(request)
        approved.append(request)
    return replace(plan, places=tuple(approved)), tuple(rejections)


def _gate(request: OrderRequest, ctx: RiskContext) -> str:
    if not ctx.global_config.trading_enabled:
        return "trading_disabled"
    if ctx.halted:
        return "halted"
    config = ctx.configs.get(request.ticker)
    if config is None:
        return "no_valid_config"
    if not config.enabled:
        return "market_disabled"
    return ""


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
