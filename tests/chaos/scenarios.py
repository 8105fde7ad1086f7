"""Chaos scenarios: each drives real dora processes through faults and returns its figures.

Faults on throughout: user-data reads lag 900 ms, 1 request in 30 fails with a 5xx, 1 write in 20
is applied but its answer lost, and outside traders keep trading against dora's quotes.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tests.chaos.checks import (
    SizeCheck,
    TradeLogCheck,
    dora_404_classes,
    exchange_404_classes,
    inventory_cap_check,
    position_differences,
    resting_size_check,
    trade_log_check,
)
from tests.chaos.harness import ChaosRig, DoraProcess, Event
from tests.chaos.proxy import Mode

SIM_FAULTS: dict[str, Any] = {
    "lag_ms": 900, "fault_rate": Fraction(1, 30), "lost_response_rate": Fraction(1, 20),
    "flow": True, "tier": "prestige",
}
BUDGET_S = 25.0  # LoopSettings.shutdown_budget_s
START_TIMEOUT_S = 90.0  # a cold start on a busy two-core machine


@dataclass
class Figures:
    scenario: str
    seed: int
    kills: int = 0
    exit_s: float | None = None
    trade_log: TradeLogCheck | None = None
    position_diffs: dict[str, tuple[int, int]] = field(default_factory=dict)
    resting_after_stop: int | None = None
    reported_left_resting: Any = None
    size: SizeCheck | None = None
    over_caps: list[tuple[int, str, int, int]] = field(default_factory=list)
    exchange_404: Counter[str] = field(default_factory=Counter)
    dora_404: Counter[str] = field(default_factory=Counter)
    endings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"chaos {self.scenario} seed={self.seed}"]
        if self.kills:
            parts.append(f"kills={self.kills} ({', '.join(self.endings)})")
        if self.trade_log is not None:
            t = self.trade_log
            parts.append(f"fills={t.exchange_fills} trade_log_missing={t.missing} "
                         f"duplicated={t.duplicated} unknown={t.unknown}")
        parts.append(f"positions_differ={len(self.position_diffs)}")
        if self.resting_after_stop is not None:
            parts.append(f"resting_after_stop={self.resting_after_stop} "
                         f"(reported {self.reported_left_resting})")
        if self.size is not None:
            parts.append(f"over_caps={len(self.over_caps)} "
                         f"size_violations={len(self.size.violations)}/{self.size.samples}"
                         f" excused_unanswered={self.size.excused}")
        parts.append(f"404s exchange={dict(self.exchange_404)} dora={dict(self.dora_404)}")
        if self.exit_s is not None:
            parts.append(f"exit_s={self.exit_s:.1f}")
        return " | ".join(parts)


# How the killed processes end, in turn (every kind in any three kills; the moment within each
# is seeded): a process that quoted dies first, so the next one's startup has fills to apply.
ENDINGS = ("after_cycles", "after_startup_save", "mid_run")


def run_kills(rig: ChaosRig, seed: int, kills: int) -> Figures:
    """``kills`` kill -9s (after some cycles, right after the startup save, at a random moment),
    each followed by a restart, then a clean SIGTERM stop."""
    rng = random.Random(seed)
    figures = Figures("kills", seed, kills=kills)
    for number in range(kills):
        process = rig.start_dora()
        ending = ENDINGS[number % len(ENDINGS)]
        _kill(rig, process, ending, rng)
        figures.endings.append(ending)
        time.sleep(rng.uniform(0.5, 2.5))  # outside flow fills what the dead process left
    process = rig.start_dora()
    _steady(rig, process)
    _wait_cycles(process, rng.randint(3, 10))
    figures.exit_s = _stop(rig, process)
    return _judge(rig, figures, process)


LOG_TABLES = (b"_execution_log", b"_decision_log")
LOG_WRITE_DELAY_S = 2.0  # each log-table write waits this long: the writer falls behind
LOG_BACKLOG_ROWS = 30  # the kill waits for at least this many log rows queued


@dataclass
class BacklogKill:
    figures: Figures
    backlog_at_kill: int  # the killed process's last CYCLE_SUMMARY's log_backlog
    fills_counted: int  # fills the state saved before the kill counts
    counted_unlogged: int  # of those, fills with no trade-log row


def run_kill_with_log_backlog(rig: ChaosRig, seed: int) -> BacklogKill:
    """The log tables turn slow, so the background writer's backlog grows; a kill -9 while rows
    are queued. Right after it: every fill the saved state counts has its trade-log row. Then a
    restart and a clean stop: nothing lost on the exchange's side either."""
    rng = random.Random(seed)
    figures = Figures("kill_with_log_backlog", seed, kills=1)
    process = rig.start_dora()
    _steady(rig, process)
    _wait_cycles(process, 5)
    # the size check reads the targets from the decision rows, and the kill loses the rows still
    # queued (by design): it judges before the log tables slow down and after the restart only
    rig.sampling.clear()
    rig.dynamo.slow_down(LOG_TABLES, LOG_WRITE_DELAY_S)
    _expect(process, lambda ev: _log_backlog(ev) >= LOG_BACKLOG_ROWS
            and _fills(ev) > 0, f"{LOG_BACKLOG_ROWS} log rows queued and a fill")
    time.sleep(rng.uniform(0.0, 0.5))
    backlog = _log_backlog(list(process.events))
    process.kill()
    figures.endings.append("log_backlog")
    rig.dynamo.slow_down((), 0.0)
    counted = set(rig.store.load_state().recent_fills)
    unlogged = counted - set(rig.trade_log_fill_ids())
    process = rig.start_dora()
    _steady(rig, process)
    _wait_cycles(process, rng.randint(3, 8))
    figures.exit_s = _stop(rig, process)
    return BacklogKill(_judge(rig, figures, process), backlog, len(counted), len(unlogged))


def _log_backlog(events: list[Event]) -> int:
    summaries = [e for e in events if e.get("event_type") == "CYCLE_SUMMARY"]
    return int(summaries[-1].get("log_backlog", 0)) if summaries else 0


def _fills(events: list[Event]) -> int:
    return sum(int(e.get("fills", 0)) for e in events if e.get("event_type") == "CYCLE_SUMMARY")


def run_stop_after_lost_answers(rig: ChaosRig, seed: int) -> Figures:
    """A storm of 5xx and lost answers while quotes are replaced; then half the write answers
    lost, every quote replaced again, and the stop right after creates whose answers were lost:
    the stop must find and cancel them."""
    rng = random.Random(seed)
    figures = Figures("lost_answers_at_stop", seed)
    process = rig.start_dora()
    _steady(rig, process)
    _wait_cycles(process, rng.randint(3, 8))
    _storm(rig, process, rng)
    rig.set_knobs(lost_response_rate="1/2")
    seen = len(process.events)
    rig.resize_quotes(Decimal(rng.randint(12, 15)))
    _expect(process, lambda ev: any(e.get("event_type") == "BATCH_PLACE_SUMMARY"
                                    and e.get("unknown", 0) > 0 for e in ev[seen:]),
            "a batch of creates with lost answers")
    time.sleep(rng.uniform(0.0, 0.3))
    figures.exit_s = _stop(rig, process)
    rig.set_knobs(lost_response_rate="1/20")
    return _judge(rig, figures, process)


STATE_WRITES = b"TransactWriteItems"  # a lease holder saves its state in transactions only
SAVE_ATTEMPTS = 6  # BOTO_CONFIG's standard retries: the first attempt and five more


@dataclass
class LostSave:
    figures: Figures
    answers_lost: int
    versions_at_loss: int  # the state items' stored versions, summed, once every answer was lost
    versions_at_stop: int


def run_lost_state_answers(rig: ChaosRig, seed: int) -> LostSave:
    """A state save lands in DynamoDB, but the answers of all its attempts are lost, so the SDK
    gives up and the cycle fails. The next cycles must save on from the version that landed (not
    stop as if a second dora had written); then a clean stop."""
    rng = random.Random(seed)
    figures = Figures("lost_state_answers", seed)
    process = rig.start_dora()
    _steady(rig, process)
    _wait_cycles(process, rng.randint(2, 5))
    rig.dynamo.lose_answers(STATE_WRITES, SAVE_ATTEMPTS)
    _expect(process, lambda _events: rig.dynamo.answers_lost >= SAVE_ATTEMPTS,
            f"a state save whose {SAVE_ATTEMPTS} answers were all lost")
    at_loss = _stored_versions(rig)
    _wait_cycles(process, holder_cycles(list(process.events)) + rng.randint(4, 7))
    at_stop = _stored_versions(rig)
    figures.exit_s = _stop(rig, process)
    return LostSave(_judge(rig, figures, process), rig.dynamo.answers_lost, at_loss, at_stop)


def _stored_versions(rig: ChaosRig) -> int:
    rig.store.load_state()
    return sum(rig.store.versions.values())


def _storm(rig: ChaosRig, process: DoraProcess, rng: random.Random) -> None:
    """Many 5xx and lost answers while every quote is replaced, twice: retried cancels whose
    earlier attempt applied unseen, then read back through the lagging listing."""
    rig.set_knobs(fault_rate="1/4", lost_response_rate="1/4")
    for size in rng.sample(range(6, 12), 2):
        rig.resize_quotes(Decimal(size))
        _wait_cycles(process, process.cycles() + rng.randint(4, 7))
    rig.set_knobs(fault_rate="1/30")


def run_outage_stop(rig: ChaosRig, seed: int, mode: Mode) -> Figures:
    """The exchange and DynamoDB stop answering (``hang``) or refuse connections, then SIGTERM."""
    rng = random.Random(seed)
    figures = Figures(f"outage_{mode.value}", seed)
    process = rig.start_dora()
    _steady(rig, process)
    _wait_cycles(process, rng.randint(3, 8))
    rig.sampling.clear()
    rig.cut_off(mode)
    figures.exit_s = process.terminate(timeout_s=120)
    figures.dora_404 = dora_404_classes(rig.all_events())
    return figures


def _kill(rig: ChaosRig, process: DoraProcess, ending: str, rng: random.Random) -> None:
    if ending == "after_startup_save":
        _expect(process, lambda ev: _has(ev, "STATE_SAVE"), "a startup state save")
    elif ending == "after_cycles":
        _steady(rig, process)
        _wait_cycles(process, rng.randint(1, 12))
    else:
        _steady(rig, process)
        time.sleep(rng.uniform(0.1, 3.0))
    rig.sampling.clear()
    process.kill()


def _steady(rig: ChaosRig, process: DoraProcess) -> None:
    """A first cycle as the lease holder (a restart after a kill -9 stands by until the dead
    process's lease runs out)."""
    _expect(process, lambda ev: holder_cycles(ev) >= 1, "a first cycle as the lease holder")
    rig.sampling.set()


def _wait_cycles(process: DoraProcess, cycles: int) -> None:
    _expect(process, lambda ev: holder_cycles(ev) >= cycles, f"{cycles} cycles")


def holder_cycles(events: list[Event]) -> int:
    return sum(1 for e in events
               if e.get("event_type") == "CYCLE_SUMMARY" and e.get("role") == "holder")


def _stop(rig: ChaosRig, process: DoraProcess) -> float:
    rig.sampling.clear()
    exit_s = process.terminate()
    assert process.proc.returncode == 0, process.tail()
    return exit_s


def _judge(rig: ChaosRig, figures: Figures, last: DoraProcess) -> Figures:
    figures.resting_after_stop = len(rig.resting())
    shutdown = last.of_type("SHUTDOWN")
    figures.reported_left_resting = shutdown[-1].get("left_resting") if shutdown else None
    figures.trade_log = trade_log_check(rig)
    figures.position_diffs = position_differences(rig)
    figures.size = resting_size_check(rig)
    figures.over_caps = inventory_cap_check(rig)
    figures.exchange_404 = exchange_404_classes(rig)
    figures.dora_404 = dora_404_classes(rig.all_events())
    return figures


def _has(events: list[Event], event_type: str) -> bool:
    return any(e.get("event_type") == event_type for e in events)


def _expect(process: DoraProcess, predicate: Any, what: str) -> None:
    if not process.wait_for(predicate, START_TIMEOUT_S):
        raise AssertionError(f"dora never logged {what}:\n{process.tail()}")
