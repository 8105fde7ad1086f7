"""dora's main job: one plain synchronous loop (docs/architecture.md#the-loop).

Each cycle: refresh configs and flags (every N cycles), roll the trading day, reconcile from the
exchange (orders with the read-lag overlay, fills, positions/balance/settlements on their cadence),
check halt conditions, then quote in batch or per-market mode, persist on cadence, and log one
CYCLE_SUMMARY. Startup waits until the exchange's reads reflect every earlier run's writes, then
reconciles before quoting. Once a stop is requested nothing more is placed, every call fits the
stop budget, and the shutdown steps of :mod:`dora.bot.shutdown` run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dora.bot.execute import Executor
from dora.bot.lifecycle import Lifecycle, LifecycleParts
from dora.bot.persistence import Persister
from dora.bot.quoting import QuoteOutcome, Quoter, QuoteSettings
from dora.bot.reconcile import Reconciler
from dora.bot.shutdown import Shutdown, StopOutcome, StopParts
from dora.bot.snapshot import SnapshotPublisher
from dora.bot.state import BotState, Mode
from dora.bot.status import CycleSummary, StatusSink, summarize_cycle
from dora.core.errors import FatalError, OutOfTimeError, StoreError, TransientError
from dora.core.models import Fill, RestingOrder
from dora.core.overlay import Overlay
from dora.core.positions import roll_daily, unrealized_pnl
from dora.core.risk import evaluate_halt
from dora.core.units import Micros
from dora.exchange.client import KalshiClient
from dora.runtime.clock import Clock
from dora.runtime.deadline import StopBudget
from dora.runtime.health import Heartbeat, write_heartbeat
from dora.runtime.logs import EventType, decision_id, log_event

# Exit codes: 0 stopped on request; 2 is click's usage error, so a fatal bot error is distinct.
EXIT_FATAL = 3


@dataclass(frozen=True, slots=True)
class LoopSettings:
    default_mode: Mode = Mode.BATCH
    max_cycles: int | None = None
    duration_s: float | None = None
    env: str = "sim"  # the environment this process runs as (log lines, metric dimension)
    id_prefix: str = "dora-"
    positions_every: int = 5
    trades_every: int = 12
    save_every: int = 5
    heartbeat_every: int = 10
    fill_overlap_ms: int = 120_000
    order_expiry_s: int | None = 900
    interval_ms: int | None = None  # overrides the global loop_interval_ms (tests, benchmarks)
    shutdown_budget_s: float = 25.0
    heartbeat_file: str | None = None  # rewritten after every cycle; `dora health` reads it


class Bot:
    def __init__(
        self, client: KalshiClient, persister: Persister, clock: Clock, logger: logging.Logger,
        settings: LoopSettings, run_id: str, stop: threading.Event,
        status: StatusSink | None = None, snapshots: SnapshotPublisher | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.log = logger
        self.settings = settings
        self.run_id = run_id
        self.stop = stop
        self.budget = StopBudget(stop, clock, settings.shutdown_budget_s)
        client.bound_by(self.budget)
        persister.bound_by(self.budget)
        self.state = BotState()
        self.overlay = Overlay()
        self.persister = persister
        self.reconciler = Reconciler(client, self.overlay, logger,
                                     fill_overlap_ms=settings.fill_overlap_ms)
        self.executor = Executor(client, self.overlay, clock, logger,
                                 may_place=lambda: not stop.is_set())
        self.quoter = Quoter(self.reconciler, self.executor, logger,
                             QuoteSettings(settings.id_prefix, settings.order_expiry_s))
        self.lifecycle = Lifecycle(LifecycleParts(
            client, self.reconciler, self.quoter, self.executor, persister, self.overlay,
            self.state, clock, logger, settings.id_prefix, run_id), after_sync=self._startup_cancel)
        self.mode = settings.default_mode
        self.cycle = 0
        self.halt_reason = ""
        self._status = status
        self._snapshots = snapshots
        self.summaries: list[CycleSummary] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        started = self.clock.monotonic()
        try:
            self.startup()
            while not self._should_stop(started):
                cycle_started = self.clock.monotonic()
                self._guarded_cycle()
                self._sleep_rest(cycle_started)
        except OutOfTimeError:  # a stop came during startup and outlasted its wind-down
            pass
        except Exception as exc:  # a fatal error or a bug: stop quoting safely either way
            log_event(self.log, EventType.ERROR, f"fatal: {exc}", level=logging.CRITICAL,
                      error_type=type(exc).__name__, exc_info=not isinstance(exc, FatalError))
            self.budget.begin()
            self._record_special_quietly("fatal_error_cleanup_cancel")
            self.shutdown(reason="fatal_error")
            return EXIT_FATAL
        self.shutdown(reason="stop")
        return 0

    def startup(self) -> None:
        """Load state and configs, then the calibration steps (dora.bot.lifecycle): the
        exchange's status and limits, the state sync (which waits until the exchange's reads
        reflect earlier runs, then cancels dora's old orders when ``cancel_on_startup``), the
        markets, portfolio, cash and session checks. Quoting waits for any step that fails."""
        started_ms = self.clock.now_ms()
        log_event(self.log, EventType.STARTUP, "dora starting", mode=self.mode.value)
        self.persister.load_into(self.state)
        self._refresh_config(force=True)
        report = self.lifecycle.startup(started_ms)
        status = self.state.exchange
        log_event(self.log, EventType.STARTUP, "dora calibrated", calibration=report.status.value,
                  failed=list(report.failed),
                  exchange_active=status.exchange_active if status else None,
                  trading_active=status.trading_active if status else None)
        self.persister.save_state(self.state)

    def _startup_cancel(self) -> None:
        if not self.state.global_config.cancel_on_startup:
            return
        self.persister.record_special("startup_cancel", self.state, self.clock.now_ms())
        report = self.quoter.cancel_all_own(self.state, batch=True)
        log_event(self.log, EventType.STARTUP, "cancelled dora's resting orders at startup",
                  cancelled=report.cancelled, already_gone=report.already_gone,
                  **{f"cancel_404_{k.value}": n for k, n in report.gone.items()})

    def shutdown(self, *, reason: str) -> StopOutcome:
        """Stop placing, save, cancel, settle with the exchange, read the last fills and save
        again, all within the stop budget (:mod:`dora.bot.shutdown`)."""
        return self.stopping().run(reason, self.cycle)

    def stopping(self) -> Shutdown:
        """The shutdown sequence (a place to add steps)."""
        parts = StopParts(self.state, self.overlay, self.reconciler, self.quoter, self.executor,
                          self.persister, self.clock, self.log, self.stop,
                          self.settings.id_prefix)
        return Shutdown(parts, self.budget)

    # -- one cycle ---------------------------------------------------------------------------
    def run_cycle(self) -> CycleSummary:
        self.cycle += 1
        stats_before = self.client.stats.snapshot()
        started = self.clock.monotonic()
        now_ms = self.clock.now_ms()
        self._refresh_config(force=False)
        self.state.risk = roll_daily(self.state.risk, now_ms,
                                     self.state.global_config.daily_reset_hour_utc)
        self.lifecycle.before_cycle(now_ms)
        self.reconciler.sync_orders(self.state)
        positions_before = dict(self.state.positions)
        fills = self.reconciler.sync_fills(self.state)
        outcome = QuoteOutcome()
        ids = self._decision_ids()
        if self._check_halt():  # before the other reads: a failing one must not delay a halt
            outcome.report = self.quoter.cancel_all_own(self.state, batch=True)
            self._sync_slow_reads(now_ms)
        elif not self.stop.is_set():  # stopping: the shutdown takes it from here
            self._sync_slow_reads(now_ms)
            if self.lifecycle.may_quote():  # not while the exchange is paused
                outcome = self._quote(now_ms, ids)
        self.lifecycle.after_cycle(outcome, fills, positions_before, now_ms)
        self.persister.after_cycle(self.state, now_ms, outcome, ids,
                                   save=self.cycle % self.settings.save_every == 0)
        summary = summarize_cycle(self, outcome, fills, stats_before, started)
        self._after_cycle(summary, fills)
        return summary

    def _sync_slow_reads(self, now_ms: int) -> None:
        self.reconciler.sync_balance(self.state)  # the per-order cash check needs it fresh
        if self.cycle % self.settings.positions_every == 0:
            self.reconciler.sync_positions(self.state)
            since = self.state.risk.last_fill_ts_ms - 86_400_000
            self.reconciler.sync_settlements(self.state, since)
        if self.cycle % self.settings.trades_every == 1 or self.settings.trades_every == 1:
            self.reconciler.sync_trades(self.state, self.state.quotable_markets(), now_ms)

    def _quote(self, now_ms: int, ids: Mapping[str, str]) -> QuoteOutcome:
        salt = f"{self.run_id[-6:]}-{self.cycle}"
        if self.mode is Mode.BATCH:
            return self.quoter.quote_batch(self.state, now_ms, salt, ids)
        return self.quoter.quote_per_market(self.state, now_ms, salt, ids)

    def _check_halt(self) -> bool:
        """Risk limits and the operator's flag. A new halt is logged, recorded and saved once."""
        unrealized = sum(
            unrealized_pnl(p, self.state.books[t])
            for t, p in self.state.positions.items()
            if t in self.state.books and p.net
        )
        decision = evaluate_halt(self.state.risk, unrealized, self.state.global_config,
                                 self.state.consecutive_errors)
        if decision.halt and not self.state.risk.trading_halted:
            self.state.risk = replace(self.state.risk, trading_halted=True,
                                      halt_reason=decision.reason)
        halted = self.state.risk.trading_halted
        reason = (self.state.risk.halt_reason or "manual") if halted else ""
        if reason != self.halt_reason:
            self._announce_halt_change(reason)
        return halted

    def _announce_halt_change(self, reason: str) -> None:
        self.halt_reason = reason
        if not reason and not self.state.risk.trading_halted:
            log_event(self.log, EventType.RISK_RESUME, "trading resumed", halted=False)
            self.persister.save_state(self.state)
            return
        log_event(self.log, EventType.RISK_HALT, "trading halted", level=logging.CRITICAL,
                  reason=reason, halted=True, daily_pnl_micros=self.state.risk.daily_pnl)
        self.persister.record_special("risk_halt_cancel", self.state, self.clock.now_ms())
        self.persister.save_state(self.state)

    def _refresh_config(self, *, force: bool) -> None:
        every = self.state.global_config.config_refresh_cycles
        if not force and self.cycle % max(every, 1) != 0:
            return
        self.persister.refresh_config(self.state)
        held = {t for t, p in self.state.positions.items() if p.net and not p.settled}
        self.lifecycle.sync_rules(sorted(set(self.state.configs) | held))
        wanted = self._wanted_mode()
        if wanted is not self.mode:
            log_event(self.log, EventType.MODE_SWITCH, f"execution mode {self.mode} -> {wanted}",
                      previous=self.mode.value, mode=wanted.value)
            self.mode = wanted

    def _wanted_mode(self) -> Mode:
        flag = self.state.global_config.use_batch_execution
        if flag is None:
            return self.settings.default_mode
        return Mode.BATCH if flag else Mode.PER_MARKET

    def _decision_ids(self) -> dict[str, str]:
        return {t: decision_id(self.run_id, t, self.cycle) for t in self.state.configs}

    # -- plumbing ----------------------------------------------------------------------------
    def _guarded_cycle(self) -> None:
        try:
            self.run_cycle()
            self.state.consecutive_errors = 0
        except (TransientError, StoreError) as exc:
            self.state.consecutive_errors += 1
            log_event(self.log, EventType.ERROR, f"cycle failed: {exc}", level=logging.ERROR,
                      error_type=type(exc).__name__, cycle=self.cycle,
                      consecutive_errors=self.state.consecutive_errors)
            self._halt_if_failing()

    def _halt_if_failing(self) -> None:
        """Cycles that keep failing never reach the halt check, so act here: halt and take
        dora's quotes down while the exchange still answers the calls that needs."""
        if self.state.consecutive_errors < self.state.global_config.max_consecutive_errors:
            return
        try:
            self.reconciler.sync_orders(self.state)
            if self._check_halt() and self._own_resting():
                self.quoter.cancel_all_own(self.state, batch=True)
        except (TransientError, StoreError) as exc:
            log_event(self.log, EventType.ERROR, f"halt after repeated failures failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__)

    def _after_cycle(self, summary: CycleSummary, fills: list[tuple[Fill, Micros]]) -> None:
        self.summaries.append(summary)
        if self._status is not None:
            self._status.show(summary)
        if self.settings.heartbeat_file:
            self._write_heartbeat(self.settings.heartbeat_file)
        if self._snapshots is not None:
            self._snapshots.publish(self, summary, fills)
        if self.cycle % self.settings.heartbeat_every == 0:
            log_event(self.log, EventType.HEARTBEAT, "heartbeat", loop_count=self.cycle,
                      markets_active=summary.markets_quoted, mode=self.mode.value,
                      open_orders_count=summary.resting_orders,
                      daily_pnl_micros=self.state.risk.daily_pnl,
                      halted=self.state.risk.trading_halted)

    def _write_heartbeat(self, path: str) -> None:
        beat = Heartbeat(self.clock.now_ms(), self.cycle, self.run_id,
                         self.state.risk.trading_halted)
        try:
            write_heartbeat(Path(path), beat)
        except OSError as exc:  # the health check then fails, which is the right signal
            log_event(self.log, EventType.ERROR, f"heartbeat file not written: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__, path=path)

    def _should_stop(self, started: float) -> bool:
        if self.stop.is_set():
            return True
        if self.settings.max_cycles is not None and self.cycle >= self.settings.max_cycles:
            return True
        duration = self.settings.duration_s
        return duration is not None and self.clock.monotonic() - started >= duration

    def _sleep_rest(self, cycle_started: float) -> None:
        interval_ms = self.settings.interval_ms
        if interval_ms is None:
            interval_ms = self.state.global_config.loop_interval_ms
        remaining = interval_ms / 1000 - (self.clock.monotonic() - cycle_started)
        while remaining > 0 and not self.stop.is_set():
            step = min(remaining, 0.1)
            self.clock.sleep(step)
            remaining -= step

    def _own_resting(self) -> list[RestingOrder]:
        prefix = self.settings.id_prefix
        return [o for o in self.state.resting if o.client_order_id.startswith(prefix)]

    def _record_special_quietly(self, reason: str) -> None:
        try:
            self.persister.record_special(reason, self.state, self.clock.now_ms())
        except StoreError as exc:
            log_event(self.log, EventType.ERROR, f"decision record failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__)

