"""Targets -> diff -> risk -> execution, in batch mode or market by market.

Both modes run the same pure strategy, diff and risk code; only the I/O pattern differs: batch mode
reads all books in one multi-book call and sends one list of cancels and one of places through the
client's batching, per-market mode reads each book and sends single-order calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from dora.bot.execute import ExecutionReport, Executor
from dora.bot.reconcile import Reconciler
from dora.bot.state import BotState
from dora.core.diff import Plan, diff_orders
from dora.core.models import OrderBook, OrderRequest, PositionState, RestingOrder, TsMs
from dora.core.risk import Rejection, RiskContext, check_plan
from dora.core.strategies.base import QuoteDecision, QuoteInputs, remove_own_orders
from dora.core.strategies.classic import compute_quotes
from dora.core.units import Micros
from dora.runtime.logs import EventType, log_event


@dataclass(frozen=True, slots=True)
class QuoteSettings:
    id_prefix: str
    order_expiry_s: int | None
    min_order_size: int = 100


@dataclass
class QuoteOutcome:
    decisions: dict[str, QuoteDecision] = field(default_factory=dict)
    report: ExecutionReport = field(default_factory=ExecutionReport)
    rejected: int = 0


class Quoter:
    def __init__(
        self, reconciler: Reconciler, executor: Executor, logger: logging.Logger,
        settings: QuoteSettings,
    ) -> None:
        self._reconciler = reconciler
        self._executor = executor
        self._log = logger
        self._settings = settings

    def quote_batch(
        self, state: BotState, now_ms: TsMs, id_salt: str, decision_ids: Mapping[str, str]
    ) -> QuoteOutcome:
        markets = state.quotable_markets()
        self._reconciler.sync_books(state, markets)
        outcome = QuoteOutcome()
        for ticker in markets:
            outcome.decisions[ticker] = compute_quotes(self._inputs(state, ticker, now_ms))
        targets = {t: d.targets for t, d in outcome.decisions.items()}
        plan = diff_orders(
            state.resting, targets, managed=set(markets), id_prefix=self._settings.id_prefix,
            id_salt=id_salt, min_order_size=self._settings.min_order_size,
        )
        approved = self._approve(plan, state, now_ms, outcome)
        outcome.report = self._executor.execute(approved, decision_ids, batch=True)
        return outcome

    def quote_per_market(
        self, state: BotState, now_ms: TsMs, id_salt: str, decision_ids: Mapping[str, str]
    ) -> QuoteOutcome:
        markets = state.quotable_markets()
        outcome = QuoteOutcome()
        cycle = _CycleSoFar(list(state.resting))
        for ticker in markets:
            self._reconciler.sync_books(state, [ticker])
            decision = compute_quotes(self._inputs(state, ticker, now_ms))
            outcome.decisions[ticker] = decision
            resting = [o for o in state.resting if o.ticker == ticker]
            plan = diff_orders(
                resting, {ticker: decision.targets}, managed={ticker},
                id_prefix=self._settings.id_prefix, id_salt=id_salt,
                min_order_size=self._settings.min_order_size,
            )
            approved = self._approve(plan, state, now_ms, outcome, cycle)
            outcome.report.merge(self._executor.execute(approved, decision_ids, batch=False))
            _apply_to_resting(state, approved)
        leftovers = [o for o in state.resting if o.ticker not in set(markets)]
        plan = diff_orders(leftovers, {}, managed=set(), id_prefix=self._settings.id_prefix,
                           id_salt=id_salt)
        outcome.report.merge(self._executor.execute(plan, decision_ids, batch=False))
        return outcome

    def cancel_all_own(self, state: BotState, *, batch: bool) -> ExecutionReport:
        """Cancel every order dora placed (by client order id prefix); never anyone else's."""
        plan = diff_orders(state.resting, {}, managed=set(), id_prefix=self._settings.id_prefix,
                           id_salt="shutdown")
        return self._executor.execute(plan, {}, batch=batch)

    def _inputs(self, state: BotState, ticker: str, now_ms: TsMs) -> QuoteInputs:
        prefix = self._settings.id_prefix
        own = [o for o in state.resting
               if o.ticker == ticker and o.client_order_id.startswith(prefix)]
        book = state.books.get(ticker, OrderBook(ticker))
        return QuoteInputs(
            rules=state.rules[ticker],
            book=remove_own_orders(book, own),
            trades=state.trades.get(ticker, ()),
            position=state.positions.get(ticker, PositionState(ticker)),
            config=state.configs[ticker],
            now_ms=now_ms,
            close_guard_ms=state.global_config.close_guard_ms,
        )

    def _approve(
        self, plan: Plan, state: BotState, now_ms: TsMs, outcome: QuoteOutcome,
        cycle: _CycleSoFar | None = None,
    ) -> Plan:
        if cycle is None:
            approved, rejections = check_plan(plan, self._risk_context(state, state.resting))
        else:
            approved, rejections = cycle.check(plan, self._risk_context(state, cycle.start))
        for rejection in rejections:
            outcome.rejected += 1
            log_event(self._log, EventType.RISK_HALT, "order blocked by risk check",
                      level=logging.WARNING, market=rejection.request.ticker,
                      client_order_id=rejection.request.client_order_id, reason=rejection.reason)
        places = tuple(self._with_expiry(r, now_ms) for r in approved.places)
        return replace(approved, places=places)

    def _with_expiry(self, request: OrderRequest, now_ms: TsMs) -> OrderRequest:
        if self._settings.order_expiry_s is None:
            return request
        return replace(request, expiration_s=now_ms // 1000 + self._settings.order_expiry_s)

    def _risk_context(self, state: BotState, resting: Sequence[RestingOrder]) -> RiskContext:
        return RiskContext(
            global_config=state.global_config,
            configs=state.valid_configs(),
            positions=state.positions,
            resting=resting,
            available_cash=_available_cash(state),
            halted=state.risk.trading_halted,
        )


class _CycleSoFar:
    """Per-market mode checks each market's plan together with everything approved earlier
    in the cycle, against the cycle's starting resting set and balance: the same limits and
    cash as one batch plan, however the work is split."""

    def __init__(self, start: list[RestingOrder]) -> None:
        self.start = start
        self._approved = Plan()

    def check(self, plan: Plan, ctx: RiskContext) -> tuple[Plan, tuple[Rejection, ...]]:
        so_far = self._approved
        combined = Plan(cancels=so_far.cancels + plan.cancels,
                        decreases=so_far.decreases + plan.decreases,
                        places=so_far.places + plan.places)
        approved, rejections = check_plan(combined, ctx)
        new_ids = {r.client_order_id for r in plan.places}
        places = tuple(r for r in approved.places if r.client_order_id in new_ids)
        self._approved = replace(combined, places=so_far.places + places)
        return (replace(plan, places=places),
                tuple(r for r in rejections if r.request.client_order_id in new_ids))


def _available_cash(state: BotState) -> Micros:
    return state.balance.balance if state.balance is not None else 0


def _apply_to_resting(state: BotState, plan: Plan) -> None:
    """Keep the in-cycle resting view current between markets in per-market mode."""
    gone = {o.order_id for o in plan.cancels}
    state.resting = [o for o in state.resting if o.order_id not in gone]
    state.resting.extend(_as_pending(r) for r in plan.places)


def _as_pending(request: OrderRequest) -> RestingOrder:
    return RestingOrder("pending:" + request.client_order_id, request.client_order_id,
                        request.ticker, request.side, request.price, request.count)
