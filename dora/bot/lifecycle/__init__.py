"""The trader's lifecycle: calibrate at startup, recalibrate continuously, heal itself
(docs/architecture.md#lifecycle). All of it runs inside the one synchronous loop.

The loop calls four things: :meth:`Lifecycle.startup` (the calibration steps, before the first
quote), :meth:`Lifecycle.before_cycle` (operator items, breakers, the exchange's status, a due
recalibration, and which markets are set aside this cycle), :meth:`Lifecycle.may_quote`, and
:meth:`Lifecycle.after_cycle` (breakers and market-state refusals, the session's cash).

Markets set aside go into ``BotState.no_orders`` (breaker open, held after a paused or closed
refusal: no order at all) and ``BotState.no_quotes`` (not viable on its rules and the time, not
affordable: no quotes, but a position there may still be closed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from dora.bot.lifecycle.breakers import Breakers
from dora.bot.lifecycle.calibration import Calibrator, log_report
from dora.bot.lifecycle.checks import MarketChecks
from dora.bot.lifecycle.exchange_watch import ExchangeWatch
from dora.bot.lifecycle.parts import LifecycleParts
from dora.bot.lifecycle.recalibration import Recalibrator
from dora.bot.lifecycle.rules import RulesWatch
from dora.bot.quoting import QuoteOutcome
from dora.core.calibration import STEP_NAMES, CalibrationReport
from dora.core.cash_plan import effective_reserve
from dora.core.models import Fill, PositionState, TsMs
from dora.core.session import session_flows
from dora.core.strategies.base import TargetQuote
from dora.core.units import Micros
from dora.core.viability import viability_by_market
from dora.exchange.parallel import Outcome
from dora.runtime.logs import EventType, log_event
from dora.store.store import OperatorItems

__all__ = ["Lifecycle", "LifecycleParts"]


class Lifecycle:
    def __init__(
        self, parts: LifecycleParts, *, acting: bool = True,
        after_sync: Callable[[], None] | None = None,
    ) -> None:
        self.parts = parts
        self._acting = acting
        self.rules = RulesWatch(parts)
        self.checks = MarketChecks(parts, self.rules, acting=acting)
        self.calibrator = Calibrator(parts, self.checks, acting=acting, after_sync=after_sync)
        self.watch = ExchangeWatch(parts, self.rules)
        self.breakers = Breakers(parts, self.rules)
        self.recalibrator = Recalibrator(parts, self.calibrator)
        self._targets: dict[str, tuple[TargetQuote, ...]] = {}
        self._reserve_note = ""

    # -- startup ------------------------------------------------------------------------------
    def startup(self, started_ms: TsMs) -> CalibrationReport:
        """The calibration steps, in order; the report is logged, kept and (acting) saved.
        ``started_ms``: when this process started (the exchange's reads must reflect every
        write before it)."""
        self.calibrator.started_ms = started_ms
        report = self.calibrator.run(STEP_NAMES, "startup" if self._acting else "preflight")
        self._adopt_report(report, replace_all=True)
        if self.parts.state.exchange is not None:
            self.watch.record(self.parts.state.exchange)
        self._guard_reserve()
        self._set_aside(self.parts.clock.now_ms())
        return report

    def sync_rules(self, tickers: Sequence[str]) -> None:
        """The loop's periodic config refresh reads markets through the change watch."""
        self.rules.read(tickers)
        self.parts.state.last_sync_ms["configs"] = self.parts.clock.now_ms()

    # -- each cycle ---------------------------------------------------------------------------
    def syncs_this_cycle(self) -> bool:
        """A failed calibration step is tried again, or a recalibration is due: they read the
        exchange's orders themselves, so the cycle's own reads must come after them."""
        report = self.parts.state.calibration
        return (report is not None and bool(report.failed)) or self.recalibrator.due()

    def before_cycle(self, now_ms: TsMs, items: Outcome[OperatorItems] | None = None) -> None:
        """``items``: the operator items, already read (with the cycle's exchange reads, when
        :meth:`syncs_this_cycle` said no; a recalibration then waits for the next cycle)."""
        state = self.parts.state
        state.drift_corrections = 0
        persister = self.parts.persister
        stored = persister.refresh_operator_items(state) if items is None else \
            persister.adopt_operator_items(state, items.get())
        if stored is not None:
            self.breakers.adopt_resets(stored)
        self._guard_reserve()
        self.breakers.advance(now_ms)
        self.watch.release_expired(now_ms)
        self.watch.poll_if_due()
        self.recalibrator.limits_if_refused()
        report = state.calibration
        if items is not None:  # the cycle's reads are out already: a sync waits a cycle
            pass
        elif report is not None and report.failed:  # quoting waits: try the failed steps again
            self._adopt_report(self.calibrator.run(report.failed, "retry"))
        elif self.recalibrator.due():
            self._set_aside(now_ms)
            self._adopt_report(self.recalibrator.run(self._targets, self._managed()))
        self._set_aside(now_ms)

    def may_quote(self) -> bool:
        """Not while the exchange is paused, nor while a calibration step still fails."""
        report = self.parts.state.calibration
        return not self.watch.paused and (report is None or not report.failed)

    def after_cycle(
        self, outcome: QuoteOutcome, fills: Sequence[tuple[Fill, Micros]],
        positions_before: Mapping[str, PositionState], now_ms: TsMs,
    ) -> None:
        state = self.parts.state
        if outcome.decisions:
            self._targets = {t: d.targets for t, d in outcome.decisions.items()}
        self.breakers.observe(outcome.report.events, outcome.market_errors, now_ms)
        self.watch.after_refusals(outcome.report.events, now_ms)
        if state.session is not None:
            state.session_cash = session_flows(state.session_cash, positions_before, fills,
                                               state.positions)
        self._set_aside(now_ms)

    # -- plumbing -----------------------------------------------------------------------------
    def _adopt_report(self, report: CalibrationReport, *, replace_all: bool = False) -> None:
        state = self.parts.state
        log_report(self.parts.log, report)
        if replace_all or state.calibration is None:
            state.calibration = report
        else:
            state.calibration = state.calibration.merged(report)
        if self._acting:
            self.parts.persister.save_calibration(state)

    def _set_aside(self, now_ms: TsMs) -> None:
        state = self.parts.state
        state.no_orders = {**self.breakers.set_aside(), **self.watch.held()}
        not_viable = viability_by_market(state.configs, state.rules, None, now_ms,
                                         state.global_config.close_guard_ms)
        state.no_quotes = {**not_viable, **self.checks.unaffordable}

    def _managed(self) -> list[str]:
        state = self.parts.state
        return sorted(set(state.quotable_markets()) | set(state.exit_markets()))

    def _guard_reserve(self) -> None:
        state = self.parts.state
        if state.balance is None:
            return
        value = state.balance.balance + state.balance.portfolio_value
        reserve, note = effective_reserve(state.global_config.min_cash_reserve, value)
        if note:
            state.global_config = replace(state.global_config, min_cash_reserve=reserve)
        if note != self._reserve_note:
            self._reserve_note = note
            if note:
                log_event(self.parts.log, EventType.CONFIG_REFRESH, f"global config: {note}",
                          level=logging.WARNING, setting="min_cash_reserve")
