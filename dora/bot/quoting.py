"""Targets -> diff -> risk -> execution, in batch mode or market by market.

Both modes run the same pure code (the compute phase, :mod:`dora.bot.planning`); only the I/O
pattern differs: batch mode reads all books in one multi-book call and sends one list of cancels
and one of places through the client's batching, per-market mode reads each book and sends
single-order calls. The cash check runs twice: on the plan, and again on its places once the
cancels have gone out, counting only what the exchange says they freed (an order dora cancels
may have filled first). After the cycle's cancels and places, the orders it kept that are close
to lapsing get their expiry renewed (:mod:`dora.core.renewal`), in both modes from the whole
cycle's kept orders at once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext

from dora.bot.execute import Confirm, ExecutionReport, Executor
from dora.bot.phases import PhaseTimes
from dora.bot.planning import (
    Cycle,
    CycleSoFar,
    Planner,
    QuoteOutcome,
    QuoteSettings,
    cycle_markets,
    free_cash,
)
from dora.bot.reconcile import Reconciler
from dora.bot.renew import log_renewal_off
from dora.bot.state import BotState
from dora.bot.strategies import StrategyRegistry
from dora.core.diff import Plan, diff_market, diff_orders
from dora.core.ledger import WriteKind, after_writes
from dora.core.models import OrderRequest, RestingOrder, TimeInForce, TsMs
from dora.core.renewal import Renewals
from dora.core.risk import check_plan

__all__ = ["QuoteOutcome", "QuoteSettings", "Quoter"]


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
        self.planner = Planner(logger, settings, strategies or StrategyRegistry.discover(logger))
        self._closer = self.planner.closer
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
        cycle = self.planner.start_cycle(state, now_ms, id_salt, decision_ids, markets)
        approved = self.planner.plan_batch(state, cycle, markets, outcome)
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
        planner = self.planner
        cycle = planner.start_cycle(state, now_ms, id_salt, decision_ids, markets)
        so_far = CycleSoFar(list(state.resting))
        kept: list[RestingOrder] = []
        for ticker in markets:
            self._read_books(state, [ticker])
            decision = planner.decide(state, ticker, cycle, outcome)
            if decision is None:
                continue
            plan = diff_market(cycle.index, ticker, decision.targets, id_salt=id_salt,
                               min_order_size=self._settings.min_order_size)
            approved = planner.approve(plan, state, cycle, outcome, so_far)
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

    def _execute(
        self, plan: Plan, state: BotState, decision_ids: Mapping[str, str], *, batch: bool,
        confirm: tuple[Cycle, QuoteOutcome] | None = None,
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
        self, state: BotState, writes: _WriteRecorder, cycle: Cycle, outcome: QuoteOutcome
    ) -> Confirm:
        def confirm_cash(places: Sequence[OrderRequest],
                         so_far: ExecutionReport) -> Sequence[OrderRequest]:
            writes.record(so_far)
            ctx = self.planner.risk_context(state, writes.resting, cycle, outcome,
                                            free_cash(state))
            approved, rejections = check_plan(Plan(places=tuple(places)), ctx)
            self.planner.report_rejections(state, outcome, rejections)
            return approved.places

        return confirm_cash


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


def _apply_to_resting(state: BotState, plan: Plan, report: ExecutionReport) -> None:
    """Keep the in-cycle resting view current between markets in per-market mode: the orders
    the exchange cancelled (or found gone) are gone and those it decreased smaller, as in batch
    mode's check after the cancels (a cancel that failed or was never sent leaves its order
    resting), and every place the exchange took (or may have) rests."""
    sent = {w.key for w in report.writes if w.kind is WriteKind.PLACE}
    state.resting = after_writes(state.resting, report.writes)
    state.resting.extend(_as_pending(r) for r in plan.places
                         if r.client_order_id in sent and r.time_in_force is TimeInForce.GTC)


def _as_pending(request: OrderRequest) -> RestingOrder:
    return RestingOrder("pending:" + request.client_order_id, request.client_order_id,
                        request.ticker, request.side, request.price, request.count)
