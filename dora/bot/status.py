"""Per-cycle summary (the CYCLE_SUMMARY log line) and the live one-line terminal status."""

from __future__ import annotations

import logging
import sys
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from dora.bot.lease import LeaseKeeper
from dora.bot.metrics import emit_cycle_metrics
from dora.bot.quoting import QuoteOutcome
from dora.bot.state import BotState, Mode
from dora.core.cancel_history import GoneClass
from dora.core.models import Fill
from dora.core.tiers import Bucket, bucket_for
from dora.core.units import Micros, format_count, format_micros
from dora.exchange.client import KalshiClient
from dora.exchange.stats import EndpointStats
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event


class _Settings(Protocol):
    @property
    def id_prefix(self) -> str: ...
    @property
    def env(self) -> str: ...


class CycleSource(Protocol):
    """What a cycle summary reads from the loop (the Bot), without importing it."""

    @property
    def client(self) -> KalshiClient: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def log(self) -> logging.Logger: ...
    @property
    def state(self) -> BotState: ...
    @property
    def settings(self) -> _Settings: ...
    @property
    def cycle(self) -> int: ...
    @property
    def mode(self) -> Mode: ...
    @property
    def lease(self) -> LeaseKeeper: ...
    @property
    def group_triggered(self) -> bool: ...
    @property
    def cycle_period_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class CycleSummary:
    cycle: int
    mode: str
    duration_ms: int
    markets_quoted: int
    resting_orders: int
    cancelled: int
    placed: int
    failed: int
    already_gone: int
    fills: int
    fills_total: int
    requests: int
    tokens: int
    rate_limited: int
    read_headroom_pct: int
    write_headroom_pct: int
    net_position: int
    daily_pnl: Micros
    halted: bool
    by_group: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # the promised-cash ledger's free cash: balance - promised + released; None until a balance
    # has been read
    free_cash: Micros | None = None
    balance: Micros | None = None  # the exchange's, as of its own timestamp
    promised: Micros = 0  # dora's places the balance does not show yet
    closing: int = 0  # markets with a close intent this cycle
    market_errors: int = 0  # markets skipped because their strategy failed
    # cancels answered "already gone", by why (dora.core.cancel_history); stale must stay 0
    cancel_404_fill_race: int = 0
    cancel_404_lost_answer: int = 0
    cancel_404_stale: int = 0
    # the lease (docs/architecture.md#lease): this process holds a shard's lease or stands by
    role: str = "holder"  # holder | standby
    shard: str = ""  # "2/3" while holding one
    epoch: int = 0
    lease_held: bool = True
    lease_remaining_ms: int | None = None  # None for a standby
    group_triggered: bool = False  # the epoch's order group is triggered: nothing is placed
    # this process's share of the account's rate budget, and how much of it the cycle used
    budget_share_pct: int = 100
    read_budget_used_pct: int = 0
    write_budget_used_pct: int = 0
    # expiry renewals (dora.core.renewal): confirmed, answer lost, refused/not sent, left for later
    renewed: int = 0
    renew_unknown: int = 0
    renew_failed: int = 0
    renew_deferred: int = 0
    # creates a plan older than max_plan_age_ms left to the next cycle (the write tokens could
    # not pay for them in time)
    orders_deferred: int = 0
    # where the cycle's time went (dora.bot.phases) and how much of it the loop waited for
    # DynamoDB's answers (its own time, not dora's)
    reads_ms: int = 0
    compute_ms: int = 0
    cancels_ms: int = 0
    places_ms: int = 0
    persist_ms: int = 0
    dynamodb_ms: int = 0
    # the background log writer (dora.store.logwriter): rows queued, rows dropped this cycle
    log_backlog: int = 0
    log_dropped: int = 0
    # the lifecycle (dora.bot.lifecycle): the exchange paused, breakers not closed, drift
    # corrections this cycle, and the age of the oldest kind of last successful read
    exchange_paused: bool = False
    breakers_open: int = 0
    drift_corrections: int = 0
    oldest_sync_ms: int | None = None


@dataclass(frozen=True, slots=True)
class CycleCosts:
    """What the loop measured around the cycle: time per phase, its wait for DynamoDB, and the
    log writer's backlog and drops."""

    phases_ms: Mapping[str, int] = field(default_factory=dict)
    dynamodb_ms: int = 0
    log_backlog: int = 0
    log_dropped: int = 0


def summarize_cycle(
    bot: CycleSource, outcome: QuoteOutcome, fills: Sequence[tuple[Fill, Micros]],
    stats_before: Mapping[str, EndpointStats], started: float, costs: CycleCosts | None = None,
) -> CycleSummary:
    delta = bot.client.stats.since(dict(stats_before))
    report = outcome.report
    own = [o for o in bot.state.resting if o.client_order_id.startswith(bot.settings.id_prefix)]
    cash = bot.state.cash_view()
    costs = costs or CycleCosts()
    phases = costs.phases_ms
    summary = CycleSummary(
        cycle=bot.cycle, mode=bot.mode.value,
        duration_ms=round((bot.clock.monotonic() - started) * 1000),
        markets_quoted=sum(1 for d in outcome.decisions.values() if d.targets),
        resting_orders=len(own) - report.cancelled - report.already_gone + report.placed,
        cancelled=report.cancelled, placed=report.placed, failed=report.failures,
        already_gone=report.already_gone, fills=len(fills), fills_total=bot.state.fills_total,
        requests=sum(s.calls for s in delta.values()),
        tokens=sum(s.tokens for s in delta.values()),
        rate_limited=sum(s.rate_limited for s in delta.values()),
        read_headroom_pct=round(bot.client.limiter.headroom(Bucket.READ) * 100),
        write_headroom_pct=round(bot.client.limiter.headroom(Bucket.WRITE) * 100),
        net_position=sum(p.net for p in bot.state.positions.values() if not p.settled),
        daily_pnl=bot.state.risk.daily_pnl, halted=bot.state.risk.trading_halted,
        by_group=_by_group(delta),
        free_cash=cash.free if cash else None, balance=cash.balance if cash else None,
        promised=cash.promised if cash else 0, closing=len(outcome.closes),
        market_errors=len(outcome.market_errors),
        cancel_404_fill_race=report.gone[GoneClass.FILL_RACE],
        cancel_404_lost_answer=report.gone[GoneClass.LOST_ANSWER],
        cancel_404_stale=report.gone[GoneClass.STALE],
        **_lease_fields(bot),
        **_budget_fields(bot, delta, bot.cycle_period_s or bot.clock.monotonic() - started),
        renewed=report.renewed, renew_unknown=report.renew_unknown,
        renew_failed=report.renew_failed, renew_deferred=report.renew_deferred,
        orders_deferred=report.place_deferred,
        reads_ms=phases.get("reads", 0), compute_ms=phases.get("compute", 0),
        cancels_ms=phases.get("cancels", 0), places_ms=phases.get("places", 0),
        persist_ms=phases.get("persist", 0), dynamodb_ms=costs.dynamodb_ms,
        log_backlog=costs.log_backlog, log_dropped=costs.log_dropped,
        **_lifecycle_fields(bot.state, bot.clock.now_ms()),
    )
    _log_summary(bot, summary, report.operations)
    return summary


def _lifecycle_fields(state: BotState, now_ms: int) -> dict[str, Any]:
    synced = [ts for ts in state.last_sync_ms.values() if ts]
    exchange = state.exchange
    return {
        "exchange_paused": exchange is not None and not exchange.trading,
        "breakers_open": sum(1 for b in state.breakers.values() if not b.allows_orders),
        "drift_corrections": state.drift_corrections,
        "oldest_sync_ms": now_ms - min(synced) if synced else None,
    }


def _lease_fields(bot: CycleSource) -> dict[str, Any]:
    lease = bot.lease.snapshot()
    held = lease.role.value == "holder"
    return {"role": lease.role.value, "shard": str(lease.shard or ""), "epoch": lease.epoch,
            "lease_held": held, "lease_remaining_ms": lease.remaining_ms if held else None,
            "group_triggered": bot.group_triggered}


def _budget_fields(
    bot: CycleSource, delta: Mapping[str, EndpointStats], period_s: float
) -> dict[str, Any]:
    """Tokens spent since the last cycle began, against what this process's share refilled
    over that time."""
    limiter = bot.client.limiter
    spent = {Bucket.READ: 0, Bucket.WRITE: 0}
    for endpoint, stats in delta.items():
        method, _, path = endpoint.partition(" ")
        spent[bucket_for(method, path)] += stats.tokens
    period = max(period_s, 1e-3)
    used = {b: round(100 * n / (limiter.rate(b) * period)) for b, n in spent.items()}
    return {"budget_share_pct": round(100 / limiter.parts),
            "read_budget_used_pct": used[Bucket.READ], "write_budget_used_pct": used[Bucket.WRITE]}


def _by_group(delta: Mapping[str, EndpointStats]) -> dict[str, dict[str, int]]:
    groups: dict[str, dict[str, int]] = {}
    for endpoint, stats in delta.items():
        group = groups.setdefault(_group_of(endpoint), {"calls": 0, "tokens": 0})
        group["calls"] += stats.calls
        group["tokens"] += stats.tokens
    return groups


def _group_of(endpoint: str) -> str:
    method, _, path = endpoint.partition(" ")
    if "/orders" in path and method != "GET":
        return "order_writes"
    return path.strip("/").split("/")[0] or "other"


def _log_summary(bot: CycleSource, summary: CycleSummary, operations: int) -> None:
    fields: dict[str, Any] = {
        "cycle": summary.cycle, "mode": summary.mode, "duration_ms": summary.duration_ms,
        "api_calls": summary.requests, "api_tokens": summary.tokens,
        "api_by_group": summary.by_group, "orders_cancelled": summary.cancelled,
        "orders_placed": summary.placed, "orders_failed": summary.failed,
        "cancel_already_gone": summary.already_gone,
        "cancel_404_fill_race": summary.cancel_404_fill_race,
        "cancel_404_lost_answer": summary.cancel_404_lost_answer,
        "cancel_404_stale": summary.cancel_404_stale, "fills": summary.fills,
        "markets_quoted": summary.markets_quoted, "rate_limited": summary.rate_limited,
        "role": summary.role, "shard": summary.shard, "epoch": summary.epoch,
        "lease_remaining_ms": summary.lease_remaining_ms,
        "group_triggered": summary.group_triggered, "budget_share_pct": summary.budget_share_pct,
        "read_budget_used_pct": summary.read_budget_used_pct,
        "write_budget_used_pct": summary.write_budget_used_pct,
        "markets_closing": summary.closing, "market_errors": summary.market_errors,
        "balance_micros": summary.balance, "promised_micros": summary.promised,
        "free_micros": summary.free_cash,
        "orders_renewed": summary.renewed, "renew_unknown": summary.renew_unknown,
        "renew_failed": summary.renew_failed, "renew_deferred": summary.renew_deferred,
        "orders_deferred": summary.orders_deferred,
        "phase_ms": {"reads": summary.reads_ms, "compute": summary.compute_ms,
                     "cancels": summary.cancels_ms, "places": summary.places_ms,
                     "persist": summary.persist_ms},
        "dynamodb_ms": summary.dynamodb_ms, "log_backlog": summary.log_backlog,
        "log_dropped": summary.log_dropped,
        "exchange_paused": summary.exchange_paused, "breakers_open": summary.breakers_open,
        "drift_corrections": summary.drift_corrections, "oldest_sync_ms": summary.oldest_sync_ms,
    }
    log_event(bot.log, EventType.CYCLE_SUMMARY, "cycle summary", **fields)
    emit_cycle_metrics(bot.log, summary, env=bot.settings.env, timestamp_ms=bot.clock.now_ms())
    if operations and summary.failed * 2 > operations:
        log_event(bot.log, EventType.CYCLE_SUMMARY,
                  "more than half of this cycle's order operations failed",
                  level=logging.WARNING, failed=summary.failed, operations=operations)


class StatusSink:
    """Prints one status line per cycle: rewritten in place on a terminal, appended otherwise.

    A stream that goes away (the status piped to a pager that quits: a broken pipe) turns the
    status line off; it never stops the bot."""

    def __init__(self, stream: TextIO | None = None,
                 logger: logging.Logger | None = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._log = logger or logging.getLogger("dora.status")
        self.enabled = True

    def show(self, s: CycleSummary) -> None:
        line = format_status(s)
        self._write("\r\x1b[2K" + line if self._tty else line + "\n")

    def finish(self, tally: RunTally) -> None:
        self._write(("\n" if self._tty else "") + format_run_summary(tally) + "\n")

    def _write(self, text: str) -> None:
        if not self.enabled:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (ValueError, OSError) as exc:  # a broken pipe; ValueError: a closed file
            self.enabled = False
            log_event(self._log, EventType.LOG, f"status line turned off: {exc}",
                      level=logging.WARNING, error_type=type(exc).__name__)


def format_status(s: CycleSummary) -> str:
    state = "STANDBY" if not s.lease_held else "HALTED" if s.halted else \
        "PAUSED" if s.exchange_paused else s.mode
    return (
        f"cycle {s.cycle:>4} [{state}] quoting {s.markets_quoted} mkts | resting {s.resting_orders}"
        f" | +{s.placed}/-{s.cancelled} orders | fills {s.fills_total}"
        f" | net {format_count(s.net_position)} | P&L ${format_micros(s.daily_pnl)[:-4]}"
        f" | {_cash(s)}"
        f" | api {s.requests} req {s.tokens} tok | headroom r{s.read_headroom_pct}%"
        f" w{s.write_headroom_pct}% | {_lifecycle(s)}{s.duration_ms} ms"
    )


def _lifecycle(s: CycleSummary) -> str:
    """The oldest read's age, and open breakers only when there are some."""
    synced = "" if s.oldest_sync_ms is None else f"synced {s.oldest_sync_ms // 1000} s ago | "
    return synced + (f"breakers {s.breakers_open} open | " if s.breakers_open else "")


def _cash(s: CycleSummary) -> str:
    if s.balance is None or s.free_cash is None:
        return "cash -"
    return (f"cash ${format_micros(s.balance)[:-4]} promised ${format_micros(s.promised)[:-4]}"
            f" free ${format_micros(s.free_cash)[:-4]}")


RECENT_SUMMARIES = 200  # cycles kept whole (tests, the end of a run); older ones only tallied


class RunTally:
    """What the run summary needs from every cycle, in memory that does not grow with the run:
    totals, the last cycle, cycle durations as counts per millisecond value (an exact median) and
    the most recent summaries (a long run at one cycle a second must not keep them all)."""

    def __init__(self, recent: int = RECENT_SUMMARIES) -> None:
        self.recent: deque[CycleSummary] = deque(maxlen=recent)
        self.cycles = self.placed = self.cancelled = self.requests = self.rate_limited = 0
        self._durations: Counter[int] = Counter()

    def add(self, s: CycleSummary) -> None:
        self.recent.append(s)
        self.cycles += 1
        self.placed += s.placed
        self.cancelled += s.cancelled
        self.requests += s.requests
        self.rate_limited += s.rate_limited
        self._durations[s.duration_ms] += 1

    def median_duration_ms(self) -> int:
        """The duration at position cycles // 2 of all cycles' durations sorted."""
        seen = 0
        for duration in sorted(self._durations):
            seen += self._durations[duration]
            if seen > self.cycles // 2:
                return duration
        return 0


def format_run_summary(tally: RunTally) -> str:
    if not tally.recent:
        return "dora ran no cycles"
    last = tally.recent[-1]
    return (
        f"dora: {tally.cycles} cycles, {tally.placed} orders placed, "
        f"{tally.cancelled} cancelled, {last.fills_total} fills, "
        f"net position {format_count(last.net_position)}, daily P&L "
        f"${format_micros(last.daily_pnl)[:-4]}, {tally.requests / tally.cycles:.1f} API requests "
        f"per cycle, median cycle {tally.median_duration_ms()} ms, "
        f"{tally.rate_limited} rate-limited"
    )
