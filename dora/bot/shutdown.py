"""Stopping dora: named steps, each bounded, inside the stop budget (docs/architecture.md#stopping).

1. ``stop_placing``: the stop flag is set (nothing is placed from here on) and the budget runs.
2. ``save_early``: state, with its trade-log rows first, in case the rest outlasts the platform's
   stop timeout.
3. ``cancel_resting``: cancel every order of dora's that the (read-lag corrected) listing shows.
4. ``settle``: wait until the exchange's reads are current past dora's last write, then take its
   listing: each create whose outcome was unknown is found by its client order id or known absent,
   and whatever of dora's still rests is cancelled, again until the listing shows nothing of
   dora's or the step's time is up.
5. ``final_fills``: read the fills up to that moment, apply them and write their trade-log rows.
6. ``save_final``: state again, if time allows.
7. ``flush_logs``: the background log writer's backlog (execution events, decision records),
   with what time is left; rows it could not write are counted (``log_rows_unwritten``).

One SHUTDOWN line follows; its figures come from the exchange's final listing, with what was left
and why. Every exchange and DynamoDB call fits the time left (:mod:`dora.runtime.deadline`).

Another step slots in by name without touching the others (:meth:`Shutdown.insert_step`): the
loop adds ``trigger_group`` (the epoch's order group, before ``cancel_resting``: one call takes
every quote down exchange-side) and ``release_lease`` at the very end (:mod:`dora.bot.loop`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from dora.bot.execute import ExecutionReport, Executor
from dora.bot.persistence import Persister
from dora.bot.quoting import Quoter
from dora.bot.reconcile import Reconciler
from dora.bot.state import BotState
from dora.core.errors import DoraError
from dora.core.models import RestingOrder
from dora.core.overlay import Overlay, is_unconfirmed
from dora.runtime.clock import Clock
from dora.runtime.deadline import StopBudget
from dora.runtime.logs import EventType, log_event

MIN_STEP_S = 0.3  # a step with less time than this is skipped
LOG_FLUSH_LEAVE_S = 1.0  # the state save leaves this much for the log flush after it
RELEASE_LEAVE_S = 1.0  # ... and the log flush this much for the lease's release (the loop's step)


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: Callable[[], None]
    cap_s: float  # at most this long
    leave_s: float = 0.0  # never the budget's last leave_s: kept for the steps after this one


@dataclass(frozen=True, slots=True)
class StopParts:
    """What the shutdown works with: the loop's own state and collaborators."""

    state: BotState
    overlay: Overlay
    reconciler: Reconciler
    quoter: Quoter
    executor: Executor
    persister: Persister
    clock: Clock
    log: logging.Logger
    stop: threading.Event
    id_prefix: str


@dataclass
class StopOutcome:
    steps: dict[str, str] = field(default_factory=dict)  # name -> ok | failed: .. | skipped: ..
    step_ms: dict[str, int] = field(default_factory=dict)  # name -> how long it took
    report: ExecutionReport = field(default_factory=ExecutionReport)
    unknown_creates: int = 0  # creates whose outcome was unknown when the stop began
    unknown_found_resting: int = 0  # of those, found resting by client order id (then cancelled)
    unknown_unresolved: int = 0  # of those, neither found nor known absent (no current listing)
    final_fills: int = 0
    log_rows_unwritten: int = 0  # queued log rows the log writer could not write in time
    confirmed: bool = False  # a listing as of after dora's last write shows nothing of dora's
    left_resting: int = 0
    left: list[str] = field(default_factory=list)  # what was left, and why


class Shutdown:
    def __init__(self, parts: StopParts, budget: StopBudget, *,
                 before_step: Callable[[], object] | None = None,
                 may_write: Callable[[], bool] = lambda: True) -> None:
        """``before_step`` runs before each step (the lease's renewal: it must not run down
        while the shutdown still writes). ``may_write``: whether dora's orders are still this
        process's to cancel (False once its lease is lost: they are its successor's)."""
        self._p = parts
        self._budget = budget
        self._before_step = before_step
        self._may_write = may_write
        self.outcome = StopOutcome()
        self._unknown: set[str] = set()  # client ids of creates not yet resolved
        self.steps = [
            Step("stop_placing", self._stop_placing, cap_s=1.0),
            Step("save_early", self._save, cap_s=5.0, leave_s=14.0),
            Step("cancel_resting", self._cancel_resting, cap_s=6.0, leave_s=9.0),
            Step("settle", self._settle, cap_s=20.0, leave_s=5.0),
            Step("final_fills", self._final_fills, cap_s=4.0, leave_s=2.5),
            Step("save_final", self._save, cap_s=10.0,
                 leave_s=LOG_FLUSH_LEAVE_S + RELEASE_LEAVE_S),
            Step("flush_logs", self._flush_logs, cap_s=5.0, leave_s=RELEASE_LEAVE_S),
        ]

    def insert_step(self, step: Step, *, before: str | None = None) -> None:
        """Add a step before the named one (at the end when ``before`` is None)."""
        names = [s.name for s in self.steps]
        self.steps.insert(names.index(before) if before else len(names), step)

    def run(self, reason: str, cycles: int) -> StopOutcome:
        self._unknown = self._unknown_creates()
        self.outcome.unknown_creates = self.outcome.unknown_unresolved = len(self._unknown)
        for step in self.steps:
            self._run_step(step)
        self._finish()
        self._log_shutdown(reason, cycles)
        return self.outcome

    def _run_step(self, step: Step) -> None:
        started = self._p.clock.monotonic()
        try:
            with self._budget.step(step.cap_s, leave_s=step.leave_s):
                if (self._budget.remaining() or 0.0) < MIN_STEP_S:
                    self.outcome.steps[step.name] = "skipped: no time left"
                    return
                if self._before_step is not None:
                    self._before_step()
                step.run()
            self.outcome.steps.setdefault(step.name, "ok")
        except DoraError as exc:
            self.outcome.steps[step.name] = f"failed: {type(exc).__name__}: {exc}"
            log_event(self._p.log, EventType.ERROR, f"shutdown step {step.name} failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__, step=step.name)
        finally:
            self.outcome.step_ms[step.name] = round((self._p.clock.monotonic() - started) * 1000)

    # -- the steps ------------------------------------------------------------------------------
    def _stop_placing(self) -> None:
        self._p.stop.set()

    def _save(self) -> None:
        self._p.persister.save_state(self._p.state)

    def _cancel_resting(self) -> None:
        if self._lost("cancel_resting"):
            return
        self._p.reconciler.sync_orders(self._p.state)
        self.outcome.report.merge(self._p.quoter.cancel_all_own(self._p.state, batch=True))

    def _lost(self, step: str) -> bool:
        if self._may_write():
            return False
        self.outcome.steps[step] = "skipped: the lease was lost, the orders are its successor's"
        return True

    def _settle(self) -> None:
        while not self._lost("settle"):
            left = self._budget.remaining() or 0.0
            as_of = self._p.reconciler.wait_until_current(
                self._p.executor.last_write_ms, self._p.clock, left)
            if as_of is None:
                self.outcome.steps["settle"] = "timed out: the listing never caught up"
                return
            listed = self._p.reconciler.list_resting(self._p.state)
            own = self._own(listed)
            found = self._unknown & {o.client_order_id for o in own}
            self.outcome.unknown_found_resting += len(found)
            self.outcome.unknown_unresolved -= len(found)
            self._unknown -= found
            if not own:  # the rest of the unknown creates never took effect, or are gone
                self.outcome.confirmed = True
                self.outcome.unknown_unresolved = 0
                return
            self.outcome.report.merge(self._p.quoter.cancel_all_own(self._p.state, batch=True))

    def _final_fills(self) -> None:
        self.outcome.final_fills = len(self._p.reconciler.sync_fills(self._p.state))
        self._p.persister.write_unlogged_fills(self._p.state)

    def _flush_logs(self) -> None:
        left = self._p.persister.close_logs(self._budget.remaining())
        self.outcome.log_rows_unwritten = left
        if left:
            self.outcome.steps["flush_logs"] = f"timed out: {left} log rows unwritten"

    # -- the report -----------------------------------------------------------------------------
    def _unknown_creates(self) -> set[str]:
        return {order.client_order_id for order, _ in self._p.overlay.placed.values()
                if is_unconfirmed(order)}

    def _own(self, orders: list[RestingOrder]) -> list[RestingOrder]:
        return [o for o in orders if o.client_order_id.startswith(self._p.id_prefix)]

    def _finish(self) -> None:
        out = self.outcome
        state = self._p.state
        resting = state.resting if out.confirmed else self._p.overlay.apply(state.resting,
                                                                             state.as_of_ms)
        own = self._own(resting)
        out.left_resting = len(own)
        if not out.confirmed:
            out.left.append(f"{len(own)} of dora's orders may still rest: no listing as of after "
                            f"dora's last write confirmed them gone")
        if out.unknown_unresolved:
            out.left.append(f"{out.unknown_unresolved} creates whose answers were lost are "
                            f"unresolved; any that rests ends at its expiry")
        if "flush_logs" not in out.steps:  # the step never ran: its rows die with the process
            out.log_rows_unwritten = self._p.persister.log_stats().backlog
        for name, status in out.steps.items():
            if status != "ok":
                out.left.append(f"{name} {status}")

    def _log_shutdown(self, reason: str, cycles: int) -> None:
        out = self.outcome
        report = out.report
        log_event(
            self._p.log, EventType.SHUTDOWN, "dora stopped", reason=reason, cycles=cycles,
            cancelled=report.cancelled, already_gone=report.already_gone,
            cancel_failed=report.cancel_failed,
            **{f"cancel_404_{k.value}": n for k, n in report.gone.items()},
            unknown_creates=out.unknown_creates,
            unknown_found_resting=out.unknown_found_resting,
            unknown_unresolved=out.unknown_unresolved, final_fills=out.final_fills,
            log_rows_unwritten=out.log_rows_unwritten,
            left_resting=out.left_resting, confirmed=out.confirmed, left=out.left,
            steps=out.steps, step_ms=out.step_ms,
            elapsed_ms=round(self._budget.elapsed() * 1000),
        )
