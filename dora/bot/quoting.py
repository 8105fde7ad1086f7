"""Targets -> diff -> risk -> execution, in batch mode or market by market.

Both modes run the same pure code; only the I/O pattern differs: batch mode reads all books in one
multi-book call and sends one list of cancels and one of places through the client's batching,
per-market mode reads each book and sends single-order calls.

Per market: the market's strategy (by name, :mod:`dora.bot.strategies`) proposes quotes, dora's
checks trim or refuse them (a refused or failing strategy skips the market: its quotes are
cancelled and the problem is in ``market_errors``), and the exit policy may replace them with a
close (:mod:`dora.bot.closing`). Markets dora holds a position in are looked at even when they are
not quoted (disabled or unconfigured), so such a position can still be closed. Every order then
passes the same diff and risk checks, with the cash the promised-cash ledger says is free. The
cash check runs twice: on the plan, and again on its places once the cancels have gone out,
counting only what the exchange says they freed (an order dora cancels may have filled first).
After the cycle's cancels and places, the orders it kept that are close to lapsing get their
expiry renewed (:mod:`dora.core.renewal`), in both modes from the whole cycle's kept orders at once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

from dora.bot.closing import Closer, OwnOrders, own_book, own_orders
from dora.bot.execute import Confirm, ExecutionReport, Executor
from dora.bot.phases import PhaseTimes
from dora.bot.reconcile import Reconciler
from dora.bot.renew import log_renewal_off
from dora.bot.state import BotState
from dora.bot.strategies import StrategyRegistry
from dora.core.diff import Plan, diff_orders
from dora.core.exit_policy import CloseIntent
from dora.core.ledger import WriteKind, after_writes
from dora.core.market_config import MarketConfig
from dora.core.models import (
    OrderBook,
    OrderRequest,
    PositionState,
    RestingOrder,
    TimeInForce,
    TsMs,
)
from dora.core.renewal import Renewals
from dora.core.risk import Rejection, RiskContext, check_plan
from dora.core.strategies import QuoteDecision, QuoteInputs
from dora.core.strategies.checks import StrategyOutputError, check_decision
from dora.core.strategies.record import PriceRecord, summarize_book
from dora.core.units import Count, Micros
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
    market_errors: dict[str, str] = field(default_factory=dict)  # market -> why it was skipped
    closes: dict[str, CloseIntent] = field(default_factory=dict)  # market -> this cycle's close
    strategies: dict[str, str] = field(default_factory=dict)  # market -> strategy name


@dataclass(frozen=True, slots=True)
class _Cycle:
    now_ms: TsMs
    id_salt: str
    decision_ids: Mapping[str, str]
    low_cash: Mapping[str, Count]
    available_cash: Micros  # as the cycle starts: both modes spend it once
    quotable: frozenset[str]
    own: OwnOrders  # dora's resting orders by market, as the cycle starts


class Quoter:
    def __init__(
        self, reconciler: Reconciler, executor: Executor, logger: logging.Logger,
        settings: QuoteSettings, strategies: StrategyRegistry | None = None,
        phases: PhaseTimes | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._executor = executor
        self._phases = phases
        self._log = logger
        self._settings = settings
        self._strategies = strategies or StrategyRegistry.discover(logger)
        self._closer = Closer(logger)
        self._reported_errors: dict[str, str] = {}
        expiry_s = settings.order_expiry_s
        self.renewals = Renewals(expiry_s) if expiry_s else None  # None: orders never expire

    def quote_batch(
        self, state: BotState, now_ms: TsMs, id_salt: str, decision_ids: Mapping[str, str],
        *, fresh_books: Collection[str] = (),
    ) -> QuoteOutcome:
        """``fresh_books``: markets whose books this cycle's reads already brought; the others
        are read here (a market with a new position since)."""
        markets = cycle_markets(state)
        fresh = frozenset(fresh_books)
        self._read_books(state, [m for m in markets if m not in fresh])
        outcome = QuoteOutcome()
        cycle = self._cycle(state, now_ms, id_salt, decision_ids, markets)
        for ticker in markets:
            self._decide(state, ticker, cycle, outcome)
        targets = {t: d.targets for t, d in outcome.decisions.items()}
        plan = diff_orders(
            state.resting, targets, managed=set(outcome.decisions),
            id_prefix=self._settings.id_prefix, id_salt=id_salt,
            min_order_size=self._settings.min_order_size,
        )
        approved = self._approve(plan, state, cycle, outcome)
        outcome.report = self._execute(approved, state, decision_ids, batch=True,
                                       confirm=(cycle, outcome))
        self._closer.after_execution(state, outcome.closes, outcome.report.events, ())
        outcome.report.merge(self._renew(state, approved.kept, now_ms, decision_ids))
        return outcome

    def quote_per_market(
        self, state: BotState, now_ms: TsMs, id_salt: str, decision_ids: Mapping[str, str]
    ) -> QuoteOutcome:
        outcome = QuoteOutcome()
        markets = cycle_markets(state)
        cycle = self._cycle(state, now_ms, id_salt, decision_ids, markets)
        so_far = _CycleSoFar(list(state.resting))
        kept: list[RestingOrder] = []
        for ticker in markets:
            self._read_books(state, [ticker])
            decision = self._decide(state, ticker, cycle, outcome)
            if decision is None:
                continue
            resting = [o for o in state.resting if o.ticker == ticker]
            plan = diff_orders(
                resting, {ticker: decision.targets}, managed={ticker},
                id_prefix=self._settings.id_prefix, id_salt=id_salt,
                min_order_size=self._settings.min_order_size,
            )
            approved = self._approve(plan, state, cycle, outcome, so_far)
            report = self._execute(approved, state, decision_ids, batch=False,
                                   confirm=(cycle, outcome))
            outcome.report.merge(report)
            _apply_to_resting(state, approved, report)
            kept.extend(approved.kept)
        self._closer.after_execution(state, outcome.closes, outcome.report.events, ())
        leftovers = [o for o in state.resting if o.ticker not in outcome.decisions]
        plan = diff_orders(leftovers, {}, managed=set(), id_prefix=self._settings.id_prefix,
                           id_salt=id_salt)
        outcome.report.merge(self._execute(plan, state, decision_ids, batch=False))
        outcome.report.merge(self._renew(state, kept, now_ms, decision_ids))
        return outcome

    def _read_books(self, state: BotState, tickers: Sequence[str]) -> None:
        if not tickers:
            return
        with self._phases.timing("reads") if self._phases else nullcontext():
            self._reconciler.sync_books(state, tickers)

    def _renew(
        self, state: BotState, kept: Sequence[RestingOrder], now_ms: TsMs,
        decision_ids: Mapping[str, str],
    ) -> ExecutionReport:
        renewals = self.renewals
        if renewals is None:
            return ExecutionReport()
        if renewals.settle(state.resting, state.as_of_ms):
            log_renewal_off(self._log, renewals)
        return self._executor.renew(renewals, renewals.due(kept, now_ms), decision_ids)

    def cancel_all_own(self, state: BotState, *, batch: bool) -> ExecutionReport:
        """Cancel every order dora placed (by client order id prefix); never anyone else's."""
        plan = diff_orders(state.resting, {}, managed=set(), id_prefix=self._settings.id_prefix,
                           id_salt="shutdown")
        return self._execute(plan, state, {}, batch=batch)

    def cancel_orders(
        self, state: BotState, orders: Sequence[RestingOrder], *, batch: bool
    ) -> ExecutionReport:
        """Cancel these orders of dora's (e.g. ones the recalibration found and no target
        explains); what they free goes into the promised-cash ledger as any cancel's does."""
        return self._execute(Plan(cancels=tuple(orders)), state, {}, batch=batch)

    def _cycle(self, state: BotState, now_ms: TsMs, id_salt: str,
               decision_ids: Mapping[str, str], markets: Collection[str]) -> _Cycle:
        """What the whole cycle shares. (In per-market mode the books are last cycle's here:
        the low-cash choice is made on them, each market's own decision on its fresh book.)"""
        own = own_orders(state.resting, self._settings.id_prefix)
        self._closer.forget_all_but(state, markets)
        return _Cycle(now_ms, id_salt, decision_ids, self._closer.low_cash(state, own),
                      self._free_cash(state), frozenset(state.quotable_markets()), own)

    def _execute(
        self, plan: Plan, state: BotState, decision_ids: Mapping[str, str], *, batch: bool,
        confirm: tuple[_Cycle, QuoteOutcome] | None = None,
    ) -> ExecutionReport:
        """Send the plan; every write the exchange took goes into the promised-cash ledger.
        With ``confirm`` (the cycle and its outcome) the places are checked again for cash
        once the cancels and decreases are done."""
        writes = _WriteRecorder(state)
        check = None if confirm is None else self._cash_confirmation(state, writes, *confirm)
        report = self._executor.execute(plan, decision_ids, batch=batch, confirm=check)
        writes.record(report)
        return report

    def _cash_confirmation(
        self, state: BotState, writes: _WriteRecorder, cycle: _Cycle, outcome: QuoteOutcome
    ) -> Confirm:
        def confirm_cash(places: Sequence[OrderRequest],
                         so_far: ExecutionReport) -> Sequence[OrderRequest]:
            writes.record(so_far)
            ctx = self._risk_context(state, writes.resting, cycle, outcome,
                                     self._free_cash(state))
            approved, rejections = check_plan(Plan(places=tuple(places)), ctx)
            self._report_rejections(state, outcome, rejections)
            return approved.places

        return confirm_cash

    @staticmethod
    def _free_cash(state: BotState) -> Micros:
        view = state.cash_view()
        return view.free if view is not None else 0

    # -- one market ------------------------------------------------------------------------
    def _decide(
        self, state: BotState, ticker: str, cycle: _Cycle, outcome: QuoteOutcome
    ) -> QuoteDecision | None:
        """The market's final targets: the strategy's checked quotes, or the exit policy's close
        in their place. None: dora has nothing to do there (its orders there are cancelled)."""
        book = own_book(state, ticker, cycle.own)
        decision = None
        if ticker in cycle.quotable:
            decision = self._strategy_decision(state, ticker, book, cycle.now_ms, outcome)
        intent = self._closer.intent(state, ticker, book, cycle.now_ms,
                                     cycle.low_cash.get(ticker, 0),
                                     cycle.decision_ids.get(ticker, ""))
        if intent is not None:
            outcome.closes[ticker] = intent
            position = state.positions.get(ticker, PositionState(ticker))
            record = (decision.record if decision is not None
                      else PriceRecord(summarize_book(book), position.net))
            target = intent.target
            decision = QuoteDecision(ticker, (target,) if target else (),
                                     f"close:{intent.reason}", record)
        if decision is not None:
            outcome.decisions[ticker] = decision
        return decision

    def _strategy_decision(
        self, state: BotState, ticker: str, book: OrderBook, now_ms: TsMs, outcome: QuoteOutcome
    ) -> QuoteDecision:
        inputs = self._inputs(state, ticker, book, now_ms)
        config = inputs.config
        name = (config.strategy if isinstance(config, MarketConfig) else None) or (
            state.global_config.strategy)
        outcome.strategies[ticker] = name
        lookup = self._strategies.lookup(name)
        problem = lookup.problem
        if lookup.strategy is not None:
            try:
                decision = check_decision(lookup.strategy.compute_quotes(inputs), inputs)
                self._report_market_error(ticker, "")
                return decision
            except StrategyOutputError as exc:
                problem = f"strategy {name!r} returned unusable output: {exc}"
            except Exception as exc:  # a strategy's own bug must not stop the other markets
                problem = f"strategy {name!r} raised {type(exc).__name__}: {exc}"
        outcome.market_errors[ticker] = problem
        self._report_market_error(ticker, problem)
        return QuoteDecision(ticker, (), "strategy_error",
                             PriceRecord(summarize_book(inputs.book), inputs.position.net))

    def _report_market_error(self, ticker: str, problem: str) -> None:
        if self._reported_errors.get(ticker, "") == problem:
            return
        if problem:
            self._reported_errors[ticker] = problem
            log_event(self._log, EventType.ERROR, "market skipped: its strategy failed",
                      level=logging.WARNING, market=ticker, reason=problem)
        else:
            del self._reported_errors[ticker]
            log_event(self._log, EventType.DECISION_MADE, "market's strategy works again",
                      market=ticker)

    @staticmethod
    def _inputs(state: BotState, ticker: str, book: OrderBook, now_ms: TsMs) -> QuoteInputs:
        return QuoteInputs(
            rules=state.rules[ticker],
            book=book,
            trades=state.trades.get(ticker, ()),
            position=state.positions.get(ticker, PositionState(ticker)),
            config=state.configs[ticker],
            now_ms=now_ms,
            close_guard_ms=state.global_config.close_guard_ms,
        )

    # -- risk ------------------------------------------------------------------------------
    def _approve(
        self, plan: Plan, state: BotState, cycle: _Cycle, outcome: QuoteOutcome,
        so_far: _CycleSoFar | None = None,
    ) -> Plan:
        if so_far is None:
            ctx = self._risk_context(state, state.resting, cycle, outcome, cycle.available_cash)
            approved, rejections = check_plan(plan, ctx)
        else:
            ctx = self._risk_context(state, so_far.start, cycle, outcome, cycle.available_cash)
            approved, rejections = so_far.check(plan, ctx)
        self._report_rejections(state, outcome, rejections)
        places = tuple(self._with_expiry(r, cycle.now_ms) for r in approved.places)
        return replace(approved, places=places)

    def _report_rejections(
        self, state: BotState, outcome: QuoteOutcome, rejections: Sequence[Rejection]
    ) -> None:
        for rejection in rejections:
            outcome.rejected += 1
            log_event(self._log, EventType.RISK_BLOCKED, "order blocked by risk check",
                      level=logging.WARNING, market=rejection.request.ticker,
                      client_order_id=rejection.request.client_order_id, reason=rejection.reason)
        self._closer.after_execution(state, outcome.closes, (), rejections)

    def _with_expiry(self, request: OrderRequest, now_ms: TsMs) -> OrderRequest:
        if self._settings.order_expiry_s is None or request.time_in_force is not TimeInForce.GTC:
            return request
        return replace(request, expiration_s=now_ms // 1000 + self._settings.order_expiry_s)

    @staticmethod
    def _risk_context(
        state: BotState, resting: Sequence[RestingOrder], cycle: _Cycle, outcome: QuoteOutcome,
        available_cash: Micros,
    ) -> RiskContext:
        return RiskContext(
            global_config=state.global_config,
            configs=state.valid_configs(),
            positions=state.positions,
            resting=resting,
            available_cash=available_cash,
            halted=state.risk.trading_halted or bool(state.operator_halt),
            closing={t: i.side for t, i in outcome.closes.items()},
            cash_reserve=state.global_config.min_cash_reserve,
            maybe_closed=state.cash_ledger.maybe_closed_by_market(state.positions),
            elsewhere_exposure=state.elsewhere_exposure,
        )


class _WriteRecorder:
    """Records an execution's writes in the promised-cash ledger as they happen (the cancels
    before the places go out, then the places) against the resting set they changed."""

    def __init__(self, state: BotState) -> None:
        self._state = state
        self.resting = list(state.resting)
        self._done = 0

    def record(self, report: ExecutionReport) -> None:
        new = report.writes[self._done:]
        if not new:
            return
        state = self._state
        state.cash_ledger = state.cash_ledger.with_writes(new, state.positions, self.resting)
        self.resting = after_writes(self.resting, new)
        self._done = len(report.writes)


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


def cycle_markets(state: BotState) -> list[str]:
    """The markets dora quotes and the ones it holds a position in, in a stable order."""
    return sorted(set(state.quotable_markets()) | set(state.exit_markets()))


def _apply_to_resting(state: BotState, plan: Plan, report: ExecutionReport) -> None:
    """Keep the in-cycle resting view current between markets in per-market mode: the cancels
    are gone, and every place the exchange took (or may have) rests."""
    gone = {o.order_id for o in plan.cancels}
    sent = {w.key for w in report.writes if w.kind is WriteKind.PLACE}
    state.resting = [o for o in state.resting if o.order_id not in gone]
    state.resting.extend(_as_pending(r) for r in plan.places
                         if r.client_order_id in sent and r.time_in_force is TimeInForce.GTC)


def _as_pending(request: OrderRequest) -> RestingOrder:
    return RestingOrder("pending:" + request.client_order_id, request.client_order_id,
                        request.ticker, request.side, request.price, request.count)
