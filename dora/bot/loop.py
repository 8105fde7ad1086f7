"""dora's main job: one plain synchronous loop (docs/architecture.md#the-loop).

Each cycle: refresh configs and flags (every N cycles), roll the trading day, reconcile from the
exchange (orders with the read-lag overlay, fills, the balance, books in batch mode, and positions,
settlements and public trades on their cadence: all these reads go out together), check halt
conditions, then quote in batch or per-market mode, persist on cadence, and log one
CYCLE_SUMMARY with the time each phase took (:mod:`dora.bot.phases`). The phases stay strictly in
order; only inside one do independent requests go out together. Only the holder of a shard's
lease does so (docs/architecture.md#lease); a process without one runs standby cycles that read
and write nothing of consequence, and takes a lease over as soon as one is free. Taking one over
touches no order before earlier epochs are fenced off (:mod:`dora.bot.handover`), waits until the
exchange's reads reflect every earlier write, then reconciles before quoting. Once a stop is
requested nothing more is placed, every call fits the stop budget, and the shutdown steps of
:mod:`dora.bot.shutdown` run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dora.bot.execute import Executor
from dora.bot.fencing import FencedOrders, ShardView
from dora.bot.groups import GroupKeeper
from dora.bot.halting import HaltGuard
from dora.bot.handover import Handover
from dora.bot.lease import LeaseKeeper
from dora.bot.lifecycle import Lifecycle, LifecycleParts
from dora.bot.persistence import Persister
from dora.bot.phases import PhaseTimes
from dora.bot.planning import cycle_markets
from dora.bot.quoting import QuoteOutcome, Quoter, QuoteSettings
from dora.bot.reads import CycleReads, ReadPlan
from dora.bot.reconcile import Reconciler
from dora.bot.shutdown import Shutdown, Step, StopOutcome, StopParts
from dora.bot.snapshot import SnapshotPublisher
from dora.bot.state import BotState, Mode
from dora.bot.status import CycleCosts, CycleSummary, RunTally, StatusSink, summarize_cycle
from dora.core.errors import (
    FatalError,
    LeaseLostError,
    OutOfTimeError,
    StoreError,
    TransientError,
)
from dora.core.fencing import epoch_salt
from dora.core.models import Fill, PositionState, RestingOrder
from dora.core.order_groups import TriggeredBy
from dora.core.overlay import Overlay
from dora.core.positions import roll_daily
from dora.core.units import Micros
from dora.exchange.client import KalshiClient
from dora.exchange.stats import EndpointStats
from dora.runtime.clock import Clock
from dora.runtime.deadline import StopBudget
from dora.runtime.health import Heartbeat, write_heartbeat
from dora.runtime.logs import EventType, decision_id, log_event

# Exit codes: 0 stopped on request; 2 is click's usage error, so a fatal bot error is distinct.
EXIT_FATAL = 3
STANDBY_ORDERS_EVERY = 5  # a standby lists the resting orders every this many cycles


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
    heartbeat_in_phase_s: float = 10.0  # and this often inside a long cancel or places phase
    shards: int | None = None  # --shards / DORA_SHARDS; None: the global config's, else 1
    task_id: str = "local"  # which task this is (the lease's owner is "<run id>@<task id>")


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
        self.phases = PhaseTimes(clock)
        lease = LeaseKeeper(persister.leases, clock, logger, owner=f"{run_id}@{settings.task_id}",
                            shards=1)
        groups = GroupKeeper(client, lease, clock, logger)
        view = ShardView(settings.id_prefix)
        self.reconciler = Reconciler(client, self.overlay, logger,
                                     fill_overlap_ms=settings.fill_overlap_ms, view=view)
        fenced = FencedOrders(client, lease, groups, stopping=stop.is_set,
                              keep_alive=self._between_writes, plan_stale=self._plan_stale)
        self.executor = Executor(fenced, self.overlay, clock, logger,
                                 may_place=lambda: not stop.is_set(), phases=self.phases)
        self.handover = Handover(lease, groups, view, persister, self.executor, self.overlay,
                                 clock, logger)
        self.halts = HaltGuard(self.handover, persister, clock, logger)
        self.lease = lease
        self.quoter = Quoter(self.reconciler, self.executor, logger,
                             QuoteSettings(settings.id_prefix, settings.order_expiry_s),
                             phases=self.phases)
        self.lifecycle = self._new_lifecycle()
        self.mode = settings.default_mode
        self.cycle = 0
        self.taken_over = False  # this lease's take-over finished (it is retried until it does)
        self.cycle_period_s = 0.0  # from the previous cycle's start to this one's
        self._cycle_started: float | None = None
        self._status = status
        self._snapshots = snapshots
        self._log_dropped = 0  # log rows the writer had dropped by the last cycle's end
        self._books_read: Sequence[str] = ()  # markets whose books this cycle's reads brought
        self._beat_at: float | None = None  # the heartbeat file's last write (monotonic)
        self._reads_sent: float | None = None  # this cycle's reads went out (monotonic)
        self.tally = RunTally()  # every cycle counted, the recent ones kept (bounded)

    @property
    def summaries(self) -> Sequence[CycleSummary]:
        """The most recent cycles' summaries (at most ``RECENT_SUMMARIES``)."""
        return self.tally.recent

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
        """Read-only until a lease is held: the exchange's status, the configs, then the first
        look at the leases. No order is touched before :meth:`_take_over`."""
        status = self.client.fetch_exchange_status()
        log_event(self.log, EventType.STARTUP, "dora starting", mode=self.mode.value,
                  exchange_active=status.exchange_active, trading_active=status.trading_active)
        self._refresh_config(force=True)
        self.handover.configure(self.settings.shards, self.state.global_config,
                                self.client.limiter)
        if self.handover.tend(look=True):
            try:
                self._take_over()
            except (TransientError, StoreError) as exc:  # the next cycle takes over again
                log_event(self.log, EventType.ERROR, f"take-over failed: {exc}",
                          level=logging.ERROR, error_type=type(exc).__name__)

    def _take_over(self) -> None:
        """A lease was just taken: fence earlier epochs off, load this shard's state, then the
        startup calibration (dora.bot.lifecycle): the exchange's status and limits, the state
        sync (which waits until the exchange's reads show every earlier write, the group trigger
        included, and removes what earlier epochs left), the markets, portfolio, cash and
        session checks. Quoting waits for a step that fails; a raised error is retried from the
        next cycle."""
        self.taken_over = False
        self.state = BotState(global_config=self.state.global_config, rules=self.state.rules)
        self.lifecycle = self._new_lifecycle()
        self.handover.claim()
        self._refresh_config(force=True)  # this shard's markets
        self.handover.fence_earlier(self.state)
        self.persister.refresh_shared(self.state, self.lease.peers())  # as of today's state
        report = self.lifecycle.startup(self.clock.now_ms())  # reads reflect the fence first
        status = self.state.exchange
        log_event(self.log, EventType.STARTUP, "dora calibrated", calibration=report.status.value,
                  failed=list(report.failed),
                  exchange_active=status.exchange_active if status else None,
                  trading_active=status.trading_active if status else None)
        self.persister.save_state(self.state)
        self.taken_over = True

    def _new_lifecycle(self) -> Lifecycle:
        """The lifecycle over this lease's state (a take-over starts a fresh state). Its state
        sync ends with the startup cancel of what earlier epochs left."""
        return Lifecycle(LifecycleParts(
            self.client, self.reconciler, self.quoter, self.executor, self.persister,
            self.overlay, self.state, self.clock, self.log, self.settings.id_prefix,
            self.run_id), after_sync=self._startup_cancel)

    def _startup_cancel(self) -> None:
        if self.state.global_config.cancel_on_startup:
            self.handover.cancel_earlier(self.state)

    def shutdown(self, *, reason: str) -> StopOutcome:
        """Stop placing, save, trigger the epoch's group, settle with the exchange (cancelling
        what still rests), read the last fills, save again and release the lease, all within
        the stop budget (:mod:`dora.bot.shutdown`). A standby has nothing to stop."""
        if self.lease.held is None:
            self.stop.set()
            log_event(self.log, EventType.SHUTDOWN, "dora stopped (standby)", reason=reason,
                      cycles=self.cycle, role="standby")
            return StopOutcome()
        return self.stopping().run(reason, self.cycle)

    def stopping(self) -> Shutdown:
        """The shutdown sequence, with the lease's steps: the group trigger before the cancels
        (one call takes every quote down), the release at the very end."""
        parts = StopParts(self.state, self.overlay, self.reconciler, self.quoter, self.executor,
                          self.persister, self.clock, self.log, self.stop,
                          self.settings.id_prefix)
        # renew the held lease between steps, never take one: a process whose lease was lost
        # would hold another with no view of its shard, and cancel a successor's quotes
        shutdown = Shutdown(parts, self.budget, before_step=self.handover.keep_lease,
                            may_write=self.lease.may_write)
        shutdown.insert_step(Step("trigger_group", self._pull_quotes_at_stop, cap_s=3.0,
                                  leave_s=12.0), before="cancel_resting")
        shutdown.insert_step(Step("release_lease", self.handover.release, cap_s=3.0))
        return shutdown

    def _pull_quotes_at_stop(self) -> None:
        if self.handover.pull_quotes(self.state, TriggeredBy.STOP):
            self.reconciler.sync_orders(self.state)  # what the trigger left shows up here

    # -- one cycle ---------------------------------------------------------------------------
    def run_cycle(self) -> CycleSummary:
        self.cycle += 1
        stats_before = self.client.stats.snapshot()
        self.phases.reset()
        self.persister.take_store_wait_ms()  # this cycle's wait starts now
        started = self.clock.monotonic()
        self.cycle_period_s = started - (self._cycle_started or started)
        self._cycle_started = started
        if self.handover.tend(look=True) or (self.lease.held is not None and not self.taken_over):
            self._take_over()
        if self.lease.held is None:
            return self._standby_cycle(stats_before, started)
        now_ms = self.clock.now_ms()
        reads, positions_before, fills = self._read_cycle(now_ms)
        self.handover.groups.on_fills(f for f, _ in fills)
        self.handover.tend_group(self.state, self.cycle)
        ids = self._decision_ids()
        outcome = self._act(now_ms, reads, ids)
        with self.phases.timing("persist"):
            self.lifecycle.after_cycle(outcome, fills, positions_before, now_ms)
            self.persister.after_cycle(self.state, now_ms, outcome, ids,
                                       save=self.cycle % self.settings.save_every == 0)
        summary = summarize_cycle(self, outcome, fills, stats_before, started, self._costs())
        self._after_cycle(summary, fills)
        return summary

    def _read_cycle(
        self, now_ms: int
    ) -> tuple[CycleReads, dict[str, PositionState], list[tuple[Fill, Micros]]]:
        """The cycle's reads, its orders and fills folded in; the positions before the fills."""
        self._reads_sent = self.clock.monotonic()
        with self.phases.timing("reads"):
            self._refresh_config(force=False)
            self.state.risk = roll_daily(self.state.risk, now_ms,
                                         self.state.global_config.daily_reset_hour_utc)
            reads = self._read_with_lifecycle(now_ms)
            self.reconciler.apply_orders(self.state, reads)
            positions_before = dict(self.state.positions)
            fills = self.reconciler.apply_fills(self.state, reads)
        return reads, positions_before, fills

    def _act(self, now_ms: int, reads: CycleReads, ids: Mapping[str, str]) -> QuoteOutcome:
        """A halt's cancels, or the cycle's quoting. The halt check comes before the other
        reads' answers are folded in: a failed one must not delay it."""
        outcome = QuoteOutcome()
        if self.halts.check(self.state):
            outcome.report = self.quoter.cancel_all_own(self.state, batch=True)
            with self.phases.timing("reads"):
                self.reconciler.apply_rest(self.state, reads)
            return outcome
        if self.stop.is_set():  # stopping: the shutdown takes it from here
            return outcome
        with self.phases.timing("reads"):
            self.reconciler.apply_rest(self.state, reads)
        self._books_read = reads.plan.books
        self.handover.tend()  # the reads may have taken a while
        # the lease and group first: the lifecycle never opens what the lease gate shuts
        if self.handover.may_quote(self.state) and self.lifecycle.may_quote():
            with self.phases.computing():
                outcome = self._quote(now_ms, ids)
        return outcome

    @property
    def group_triggered(self) -> bool:
        return self.handover.groups.triggered_by is not None

    def _standby_cycle(self, stats_before: Mapping[str, EndpointStats],
                       started: float) -> CycleSummary:
        """Without a lease: the configs and, now and then, the exchange's resting orders (for
        the status page); nothing is written anywhere."""
        self._refresh_config(force=False)
        if self.cycle % STANDBY_ORDERS_EVERY == 1:
            self.reconciler.sync_orders(self.state)
        summary = summarize_cycle(self, QuoteOutcome(), [], stats_before, started,
                                  self._costs())
        self._after_cycle(summary, [])
        return summary

    def _costs(self) -> CycleCosts:
        logs = self.persister.log_stats()
        dropped, self._log_dropped = logs.dropped - self._log_dropped, logs.dropped
        return CycleCosts(self.phases.ms(), self.persister.take_store_wait_ms(), logs.backlog,
                          dropped)

    def _read_with_lifecycle(self, now_ms: int) -> CycleReads:
        """The cycle's reads and the lifecycle's step before it (operator items, breakers,
        exchange status, a due recalibration). A recalibration syncs orders itself, so when one
        (or a calibration retry) is due it comes first and the listing after it; otherwise the
        operator items' DynamoDB read goes out together with the exchange reads (the books of a
        market it opens are read in the quoting step)."""
        if self.lifecycle.syncs_this_cycle():
            self.lifecycle.before_cycle(now_ms)
            return self.reconciler.read_cycle(self.state, self._read_plan(now_ms))
        reads = self.reconciler.read_cycle(self.state, self._read_plan(now_ms),
                                           operator_items=self.persister.read_operator_items)
        self.lifecycle.before_cycle(now_ms, reads.operator_items)
        return reads

    def _read_plan(self, now_ms: int) -> ReadPlan:
        """The cycle's reads besides orders and fills: the balance (the per-order cash check
        needs it fresh), books for batch mode, the slower reads on their cadence."""
        settings = self.settings
        positions = self.cycle % settings.positions_every == 0
        trades = self.cycle % settings.trades_every == 1 or settings.trades_every == 1
        return ReadPlan(
            books=tuple(cycle_markets(self.state)) if self.mode is Mode.BATCH else (),
            positions=positions,
            settlements_since_ms=(self.state.risk.last_fill_ts_ms - 86_400_000
                                  if positions else None),
            trades=tuple(self.state.quotable_markets()) if trades else (),
            now_ms=now_ms,
        )

    def _quote(self, now_ms: int, ids: Mapping[str, str]) -> QuoteOutcome:
        shard = self.lease.shard
        salt = epoch_salt(self.lease.epoch, shard.index if shard else 0,
                          f"{self.run_id[-6:]}-{self.cycle}")
        if self.mode is Mode.BATCH:
            return self.quoter.quote_batch(self.state, now_ms, salt, ids,
                                           fresh_books=self._books_read)
        return self.quoter.quote_per_market(self.state, now_ms, salt, ids)

    def _refresh_config(self, *, force: bool) -> None:
        every = self.state.global_config.config_refresh_cycles
        if not force and self.cycle % max(every, 1) != 0:
            return
        self.persister.refresh_config(self.state)
        view = self.handover.view
        view.update(self.state.configs)
        self.state.configs = {t: c for t, c in self.state.configs.items() if view.owns(t)}
        self.handover.follow_config(self.state.global_config)
        if self.lease.held is not None:
            self.persister.refresh_shared(self.state, self.lease.peers())
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
        except LeaseLostError as exc:  # a fenced write was refused: another holder took over
            self.handover.step_down(str(exc))
            self.taken_over = False
        except (TransientError, StoreError) as exc:
            self.state.consecutive_errors += 1
            log_event(self.log, EventType.ERROR, f"cycle failed: {exc}", level=logging.ERROR,
                      error_type=type(exc).__name__, cycle=self.cycle,
                      consecutive_errors=self.state.consecutive_errors)
            self._halt_if_failing()

    def _halt_if_failing(self) -> None:
        """Cycles that keep failing never reach the halt check, so act here: halt and take
        dora's quotes down while the exchange still answers the calls that needs."""
        if self.state.consecutive_errors < self.state.global_config.max_consecutive_errors or \
                self.lease.held is None:  # a standby has no quotes to take down
            return
        try:
            self.reconciler.sync_orders(self.state)
            if self.halts.check(self.state) and self._own_resting():
                self.quoter.cancel_all_own(self.state, batch=True)
        except (TransientError, StoreError) as exc:
            log_event(self.log, EventType.ERROR, f"halt after repeated failures failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__)

    def _after_cycle(self, summary: CycleSummary, fills: list[tuple[Fill, Micros]]) -> None:
        self.tally.add(summary)
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
        self._beat_at = self.clock.monotonic()
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
            if self.handover.tend():  # a standby took a lease: start its cycle now
                self.taken_over = False
                return

    def _between_writes(self) -> None:
        """Before order writes (each order, each wave of a long phase): the lease renewed when
        due and, every ``heartbeat_in_phase_s``, the heartbeat file rewritten, so a cycle that
        places for minutes on a small tier is neither taken over nor judged stuck. Not while
        stopping: the stop budget is the shutdown's, and its group trigger covers a lease that
        runs out."""
        if self.stop.is_set():
            return
        self.handover.keep_lease()
        path, beat_at = self.settings.heartbeat_file, self._beat_at
        if path and beat_at is not None and \
                self.clock.monotonic() - beat_at >= self.settings.heartbeat_in_phase_s:
            self._write_heartbeat(path)  # (only once a cycle has finished: healthy means that)

    def _plan_stale(self) -> bool:
        """The cycle's plan comes from reads older than ``max_plan_age_ms``: creates still
        waiting for write tokens are left to the next cycle, planned again on fresh reads."""
        sent = self._reads_sent
        limit_s = self.state.global_config.max_plan_age_ms / 1000
        return sent is not None and self.clock.monotonic() - sent > limit_s

    def _own_resting(self) -> list[RestingOrder]:
        prefix = self.settings.id_prefix
        return [o for o in self.state.resting if o.client_order_id.startswith(prefix)]

    def _record_special_quietly(self, reason: str) -> None:
        try:
            self.persister.record_special(reason, self.state, self.clock.now_ms())
        except StoreError as exc:
            log_event(self.log, EventType.ERROR, f"decision record failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__)

