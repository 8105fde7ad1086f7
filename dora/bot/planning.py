"""A quoting cycle's compute phase: targets, diff and risk, no I/O (:mod:`dora.bot.quoting` does
the reads and writes around it).

Per market: the market's strategy (by name, :mod:`dora.bot.strategies`) proposes quotes, dora's
checks trim or refuse them (a refused or failing strategy skips the market: its quotes are
cancelled and the problem is in ``market_errors``), and the exit policy may replace them with a
close (:mod:`dora.bot.closing`). Markets dora holds a position in are looked at even when they are
not quoted (disabled or unconfigured), so such a position can still be closed. Every order then
passes the same diff and risk checks, with the cash the promised-cash ledger says is free.

What did not change since the last cycle is not worked out again (docs/architecture.md#reuse):
the resting orders are grouped by market once per cycle (:class:`RestingIndex`, taking over last
cycle's figures for a market whose orders are the same), and per market the book without dora's
own size, the strategy's checked decision and the exit policy's intent are reused while their
inputs are equal and the time is within the span their functions declare. Every cache holds one
entry per market the cycle looks at.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dora.bot.closing import Closer
from dora.bot.execute import ExecutionReport
from dora.bot.state import BotState
from dora.bot.strategies import StrategyRegistry
from dora.core.diff import Plan, diff_index
from dora.core.exit_policy import CloseIntent
from dora.core.market_config import MarketConfig
from dora.core.models import (
    OrderBook,
    OrderRequest,
    PositionState,
    RestingOrder,
    TimeInForce,
    TsMs,
)
from dora.core.resting_index import RestingIndex
from dora.core.reuse import ReuseCache
from dora.core.risk import Rejection, RiskContext, check_plan
from dora.core.strategies import QuoteDecision, QuoteInputs, Strategy
from dora.core.strategies.base import earliest, remove_own_sizes, reuse_key
from dora.core.strategies.checks import StrategyOutputError, check_decision, checks_valid_until
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
    reused: int = 0  # markets whose decision was last cycle's (nothing they depend on changed)


@dataclass(frozen=True, slots=True)
class Cycle:
    """What one cycle's markets share."""

    now_ms: TsMs
    id_salt: str
    decision_ids: Mapping[str, str]
    low_cash: Mapping[str, Count]
    available_cash: Micros  # as the cycle starts: both modes spend it once
    quotable: frozenset[str]
    index: RestingIndex  # the resting orders by market, as the cycle starts
    maybe_closed: Mapping[str, Count]  # the ledger's, by market (ledger.MaybeClosed)


class Planner:
    def __init__(self, logger: logging.Logger, settings: QuoteSettings,
                 strategies: StrategyRegistry) -> None:
        self._log = logger
        self._settings = settings
        self._strategies = strategies
        self.closer = Closer(logger)
        self._reported_errors: dict[str, str] = {}
        self._index: RestingIndex | None = None
        self._books: ReuseCache[OrderBook] = ReuseCache()
        self._decisions: ReuseCache[QuoteDecision] = ReuseCache()
        self._flat: dict[str, PositionState] = {}  # a flat position per market, made once

    def start_cycle(self, state: BotState, now_ms: TsMs, id_salt: str,
                    decision_ids: Mapping[str, str], markets: Collection[str]) -> Cycle:
        """What the whole cycle shares. (In per-market mode the books are last cycle's here:
        the low-cash choice is made on them, each market's own decision on its fresh book.)"""
        index = self._index = RestingIndex(state.resting, self._settings.id_prefix, self._index)
        looked_at = markets if isinstance(markets, set | frozenset) else frozenset(markets)
        self.closer.forget_all_but(state, looked_at)  # (a set: each cache tests every key in it)
        for cache in (self._books, self._decisions):
            cache.retain(looked_at)
        for kept in (self._reported_errors, self._flat):
            for ticker in [t for t in kept if t not in looked_at]:
                del kept[ticker]
        low_cash = self.closer.low_cash(state, index, lambda t: self.own_book(state, t, index))
        return Cycle(now_ms, id_salt, decision_ids, low_cash, free_cash(state),
                     frozenset(state.quotable_markets()), index,
                     state.cash_ledger.maybe_closed_by_market(state.positions))

    def plan_batch(self, state: BotState, cycle: Cycle, markets: Sequence[str],
                   outcome: QuoteOutcome) -> Plan:
        """Every market's decision, one diff over them all and the risk checks: the plan of a
        batch cycle."""
        for ticker in markets:
            self.decide(state, ticker, cycle, outcome)
        return self.approve(self.diff_batch(cycle, outcome), state, cycle, outcome)

    def diff_batch(self, cycle: Cycle, outcome: QuoteOutcome) -> Plan:
        """The decided markets' targets against dora's orders; every other order is cancelled."""
        targets = {t: d.targets for t, d in outcome.decisions.items()}
        return diff_index(cycle.index, targets, managed=outcome.decisions.keys(),
                          id_salt=cycle.id_salt, min_order_size=self._settings.min_order_size)

    def own_book(self, state: BotState, ticker: str, index: RestingIndex) -> OrderBook:
        """The market's last book read, without dora's own resting size."""
        raw = state.books.get(ticker) or OrderBook(ticker)
        sizes = index.market(ticker).own_sizes()
        key = (raw, sizes)
        reused = self._books.get(ticker, key, 0)
        if reused is not None:
            return reused.value
        return self._books.put(ticker, key, remove_own_sizes(raw, sizes), 0, None)

    # -- one market ------------------------------------------------------------------------
    def decide(
        self, state: BotState, ticker: str, cycle: Cycle, outcome: QuoteOutcome
    ) -> QuoteDecision | None:
        """The market's final targets: the strategy's checked quotes, or the exit policy's close
        in their place. None: dora has nothing to do there (its orders there are cancelled)."""
        book = self.own_book(state, ticker, cycle.index)
        decision = None
        if ticker in cycle.quotable:
            decision = self._strategy_decision(state, ticker, book, cycle.now_ms, outcome)
        intent = self.closer.intent(state, ticker, book, cycle.now_ms,
                                    cycle.low_cash.get(ticker, 0),
                                    cycle.decision_ids.get(ticker, ""),
                                    cycle.maybe_closed.get(ticker, 0))
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
        config = state.configs[ticker]
        name = (config.strategy if isinstance(config, MarketConfig) else None) or (
            state.global_config.strategy)
        outcome.strategies[ticker] = name
        lookup = self._strategies.lookup(name)
        strategy, problem = lookup.strategy, lookup.problem
        if strategy is not None:
            key = (strategy, reuse_key(state.rules[ticker], book, state.trades.get(ticker, ()),
                                       self._position(state, ticker), config,
                                       state.global_config.close_guard_ms))
            reused = self._decisions.get(ticker, key, now_ms)
            if reused is not None:  # only a working strategy's decision is ever kept
                outcome.reused += 1
                return reused.value
            inputs = self.inputs(state, ticker, book, now_ms)
            try:
                proposed, until = _decide_until(strategy, inputs)
                decision = check_decision(proposed, inputs)
                self._report_market_error(ticker, "")
                until = earliest(checks_valid_until(inputs), until)
                return self._decisions.put(ticker, key, decision, now_ms, until)
            except StrategyOutputError as exc:
                problem = f"strategy {name!r} returned unusable output: {exc}"
            except Exception as exc:  # a strategy's own bug must not stop the other markets
                problem = f"strategy {name!r} raised {type(exc).__name__}: {exc}"
        self._decisions.forget(ticker)
        outcome.market_errors[ticker] = problem
        self._report_market_error(ticker, problem)
        return QuoteDecision(ticker, (), "strategy_error",
                             PriceRecord(summarize_book(book), self._position(state, ticker).net))

    def _position(self, state: BotState, ticker: str) -> PositionState:
        position = state.positions.get(ticker)
        if position is None:
            position = self._flat.get(ticker)
            if position is None:
                position = self._flat[ticker] = PositionState(ticker)
        return position

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

    def inputs(self, state: BotState, ticker: str, book: OrderBook, now_ms: TsMs) -> QuoteInputs:
        return QuoteInputs(
            rules=state.rules[ticker],
            book=book,
            trades=state.trades.get(ticker, ()),
            position=self._position(state, ticker),
            config=state.configs[ticker],
            now_ms=now_ms,
            close_guard_ms=state.global_config.close_guard_ms,
        )

    # -- risk ------------------------------------------------------------------------------
    def approve(
        self, plan: Plan, state: BotState, cycle: Cycle, outcome: QuoteOutcome,
        so_far: CycleSoFar | None = None,
    ) -> Plan:
        if so_far is None:
            ctx = self.risk_context(state, state.resting, cycle, outcome, cycle.available_cash,
                                    cycle.index)
            approved, rejections = check_plan(plan, ctx)
        else:
            ctx = self.risk_context(state, so_far.start, cycle, outcome, cycle.available_cash,
                                    cycle.index)
            approved, rejections = so_far.check(plan, ctx)
        self.report_rejections(state, outcome, rejections)
        places = tuple(self._with_expiry(r, cycle.now_ms) for r in approved.places)
        return replace(approved, places=places)

    def report_rejections(
        self, state: BotState, outcome: QuoteOutcome, rejections: Sequence[Rejection]
    ) -> None:
        for rejection in rejections:
            outcome.rejected += 1
            log_event(self._log, EventType.RISK_BLOCKED, "order blocked by risk check",
                      level=logging.WARNING, market=rejection.request.ticker,
                      client_order_id=rejection.request.client_order_id, reason=rejection.reason)
        self.closer.after_execution(state, outcome.closes, (), rejections)

    def _with_expiry(self, request: OrderRequest, now_ms: TsMs) -> OrderRequest:
        if self._settings.order_expiry_s is None or request.time_in_force is not TimeInForce.GTC:
            return request
        return replace(request, expiration_s=now_ms // 1000 + self._settings.order_expiry_s)

    @staticmethod
    def risk_context(
        state: BotState, resting: Sequence[RestingOrder], cycle: Cycle, outcome: QuoteOutcome,
        available_cash: Micros, index: RestingIndex | None = None,
    ) -> RiskContext:
        """``index``: ``resting`` grouped by market, when the caller has it."""
        return RiskContext(
            global_config=state.global_config,
            configs=state.valid_configs(),
            positions=state.positions,
            resting=resting,
            available_cash=available_cash,
            halted=state.risk.trading_halted or bool(state.operator_halt),
            closing={t: i.side for t, i in outcome.closes.items()},
            cash_reserve=state.global_config.min_cash_reserve,
            # from the ledger as it is now: the cancels just answered may have found fills
            maybe_closed=state.cash_ledger.maybe_closed_by_market(state.positions),
            maybe_filled=state.cash_ledger.maybe_filled_by_market(),
            elsewhere_exposure=state.elsewhere_exposure,
            index=index,
        )


class CycleSoFar:
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


def free_cash(state: BotState) -> Micros:
    view = state.cash_view()
    return view.free if view is not None else 0


def _decide_until(strategy: Strategy, inputs: QuoteInputs) -> tuple[object, TsMs | None]:
    """The strategy's decision and, when it says (TimedStrategy), until when it holds; a
    strategy that does not say, or says something that is not a later time, is asked again at
    any other time."""
    now_only = inputs.now_ms + 1
    timed = getattr(strategy, "decide_until", None)
    if not callable(timed):
        return strategy.compute_quotes(inputs), now_only
    answer = timed(inputs)
    if not (isinstance(answer, tuple) and len(answer) == 2):
        raise StrategyOutputError(f"decide_until returned {type(answer).__name__}, not a pair")
    decision, until = answer
    if until is None or (type(until) is int and until > inputs.now_ms):
        return decision, until
    return decision, now_only
