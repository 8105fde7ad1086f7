"""Per-order risk checks on a plan, and halt decisions. Pure: decisions and reasons, no effects.

``check_plan`` runs the same checks in batch and per-market mode. The exposure it counts is the
account's resting set after the plan's cancels and decreases (every resting order counts, an
operator's manual ones included: the caps are about the account), plus the places approved so far.
Per market, with B/A the resting bid/ask contracts, the worst cases if every order there filled
are: long ``net + B`` (capped by ``max_inventory_yes``) and short ``A - net`` (capped by
``max_inventory_no``); only orders that push a worst case up count against a cap, so orders that
reduce the position always fit. B and A also count the contracts of dora's orders that a cancel
found partly or wholly gone (the ledger's maybe-filled ones): they may have filled before the fills
read shows it. Global exposure is the sum over markets of max(long, short) worst cases. Cash: a
bid reserves its price per contract, an ask $1 minus its price, except the contracts the opposite
position surely still covers (:func:`dora.core.ledger.collateral`; the
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
from dora.core.ledger import covering, side_collateral
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import OrderRequest, OrderStatus, PositionState, RestingOrder, RiskState, Side
from dora.core.positions import DAILY_LOSS_HALT_PREFIX
from dora.core.resting_index import RestingIndex
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
    closing: Mapping[str, Side] = field(default_factory=dict)  # market -> its reducing side
    cash_reserve: Micros = 0
    maybe_closed: Mapping[str, Count] = field(default_factory=dict)  # see ledger.MaybeClosed
    # per market, the (bid, ask) contracts that may have filled unseen (ledger.MaybeClosed)
    maybe_filled: Mapping[str, tuple[Count, Count]] = field(default_factory=dict)
    index: RestingIndex | None = None  # ``resting`` grouped by market, when the caller has it


@dataclass(frozen=True, slots=True)
class Rejection:
    request: OrderRequest
    reason: str


class _Market:
    """One market's position and live orders, with the running sums the checks need."""

    __slots__ = ("ask_total", "asks", "bid_total", "bids", "cover", "net", "unseen")

    def __init__(self, net: Count = 0, cover: Count = 0,
                 unseen: tuple[Count, Count] = (0, 0)) -> None:
        self.net = net
        self.cover = cover  # the part of ``net`` that surely still covers orders (ledger.covering)
        self.unseen = unseen  # (bid, ask) contracts that may have filled unseen: the worst cases
        self.bids: list[tuple[Price, Count]] = []
        self.asks: list[tuple[Price, Count]] = []
        self.bid_total: Count = 0
        self.ask_total: Count = 0

    def add(self, side: Side, price: Price, count: Count) -> None:
        if side is Side.BID:
            self.bids.append((price, count))
            self.bid_total += count
        else:
            self.asks.append((price, count))
            self.ask_total += count

    def long_worst(self) -> Count:
        return self.net + self.unseen[0] + self.bid_total

    def short_worst(self) -> Count:
        return self.ask_total + self.unseen[1] - self.net

    def exposure(self) -> Count:
        return max(self.long_worst(), self.short_worst(), 0)

    def collateral(self) -> Micros:
        return (side_collateral(Side.BID, self.cover, self.bids)
                + side_collateral(Side.ASK, self.cover, self.asks))

    def grown(self, request: OrderRequest) -> tuple[_Market, Micros]:
        """This market with ``request`` resting too, and the cash that holds: only its side's
        collateral changes."""
        grown = _Market(self.net, self.cover, self.unseen)
        grown.bids, grown.asks = list(self.bids), list(self.asks)
        grown.bid_total, grown.ask_total = self.bid_total, self.ask_total
        side, price, count = request.side, request.price, request.count
        grown.add(side, price, count)
        covered = -self.cover if side is Side.BID else self.cover
        if covered <= 0:  # no position covers this side: the order holds its full amount
            return grown, (price if side is Side.BID else ONE_DOLLAR - price) * count
        before = self.bids if side is Side.BID else self.asks
        after = grown.bids if side is Side.BID else grown.asks
        return grown, (side_collateral(side, self.cover, after)
                       - side_collateral(side, self.cover, before))


def _markets_of(
    net: Count, cover: Count, unseen: tuple[Count, Count], orders: Sequence[RestingOrder],
    reduced: Mapping[str, Count], gone: set[str],
) -> tuple[_Market, _Market]:
    """The market as it is and after the plan's cancels and decreases."""
    now, after = _Market(net, cover, unseen), _Market(net, cover, unseen)
    for order in orders:
        if order.status is not OrderStatus.RESTING:
            continue
        if order.remaining > 0:
            now.add(order.side, order.price, order.remaining)
        if order.order_id in gone:
            continue
        count = reduced.get(order.order_id, order.remaining)
        if count > 0:
            after.add(order.side, order.price, count)
    return now, after


class _Exposure:
    """The account's markets after the plan's cancels and decreases, updated as places pass.

    Only the markets the plan touches are modelled order by order; every other market adds its
    worst case from the index's totals, and its cash cancels out of the difference the plan
    makes (free cash = available + what the cancels and decreases free)."""

    def __init__(self, ctx: RiskContext, plan: Plan) -> None:
        index = ctx.index if ctx.index is not None else RestingIndex(ctx.resting, "")
        gone = {o.order_id for o in plan.cancels}
        reduced = {d.order.order_id: d.reduce_to for d in plan.decreases}
        touched = {o.ticker for o in plan.cancels}
        touched.update(d.order.ticker for d in plan.decreases)
        touched.update(r.ticker for r in plan.places)
        self._maybe_closed = ctx.maybe_closed
        self._positions = ctx.positions
        self.markets: dict[str, _Market] = {}
        total = freed = 0
        for ticker in set(index.tickers()).union(ctx.positions, ctx.maybe_filled):
            position = ctx.positions.get(ticker)
            net = position.net if position is not None else 0
            unseen = ctx.maybe_filled.get(ticker, (0, 0))
            if ticker not in touched:
                bids, asks = index.market(ticker).live_totals()
                total += max(net + unseen[0] + bids, asks + unseen[1] - net, 0)
                continue
            cover = covering(net, ctx.maybe_closed.get(ticker, 0))
            now, after = _markets_of(net, cover, unseen, index.market(ticker).orders, reduced,
                                     gone)
            self.markets[ticker] = after
            if after.bid_total != now.bid_total or after.ask_total != now.ask_total:
                freed += now.collateral() - after.collateral()
            total += after.exposure()
        self.total = total + ctx.elsewhere_exposure
        self.free_cash: Micros = ctx.available_cash + freed
        self._pending: tuple[OrderRequest, _Market, Micros] | None = None

    def _market(self, ticker: str) -> _Market:
        market = self.markets.get(ticker)
        if market is None:  # a market with no position nor order: nothing covers anything
            market = self.markets[ticker] = _Market()
        return market

    def check(
        self, request: OrderRequest, config: MarketConfig, cap_total: Count, reserve: Micros
    ) -> str:
        market = self._market(request.ticker)
        if request.side is Side.BID:
            worst = market.long_worst() + request.count
            if worst > config.max_inventory_yes:
                return _over("max_inventory_yes", "long", worst, config.max_inventory_yes)
        else:
            worst = market.short_worst() + request.count
            if worst > config.max_inventory_no:
                return _over("max_inventory_no", "short", worst, config.max_inventory_no)
        grown, held = market.grown(request)
        added = grown.exposure() - market.exposure()
        if added > 0 and self.total + added > cap_total:
            return _over("max_total_exposure", "account", self.total + added, cap_total)
        return self._cash_check(request, grown, held, reserve)

    def check_close(self, request: OrderRequest, reducing: Side) -> str:
        market = self._market(request.ticker)
        if request.side is not reducing:
            return f"closing: a {request.side} adds to the position being closed"
        held = market.bid_total if reducing is Side.BID else market.ask_total
        after = held + request.count
        if after > abs(market.cover):
            return (f"closing: {format_count(after)} contracts to close > position "
                    f"{format_count(abs(market.cover))}")
        return self._cash_check(request, *market.grown(request), 0)

    def _cash_check(
        self, request: OrderRequest, grown: _Market, held: Micros, reserve: Micros
    ) -> str:
        fees = 0 if request.post_only else taker_fee_bound(request.side, request.price,
                                                           request.count)
        cash = held + fees
        if cash > 0 and cash > self.free_cash - reserve:
            kept = f" keeping the ${format_micros(reserve)} reserve" if reserve else ""
            return (f"insufficient_cash: needs ${format_micros(cash)}, "
                    f"free ${format_micros(self.free_cash)}{kept}")
        self._pending = (request, grown, cash)
        return ""

    def approve(self, request: OrderRequest) -> None:
        """Count ``request``, which the last check passed."""
        pending = self._pending
        if pending is None or pending[0] is not request:
            raise ValueError(f"approve({request.client_order_id}) without a passing check")
        _, grown, cash = pending
        market = self.markets[request.ticker]
        self.total += grown.exposure() - market.exposure()
        self.free_cash -= cash
        self.markets[request.ticker] = grown
        self._pending = None


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
