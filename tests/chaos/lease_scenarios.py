"""Lease scenarios with real ``dora run`` processes: handovers on SIGTERM and kill -9, a holder
frozen past its lease (SIGSTOP, then SIGCONT), and three shards with a standby. Judged from the
exchange's own orders: each carries the epoch and shard it was sent under (dora-e<epoch>s<shard>-).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dora.core.fencing import order_tag
from dora.core.models import OrderStatus
from dora.core.shards import lease_key
from dora.sim.http.routes_orders import CREATE_TEMPLATES
from tests.chaos.harness import PREFIX, ChaosRig, DoraProcess, Event
from tests.chaos.scenarios import START_TIMEOUT_S, holder_cycles

TAKEOVER_TIMEOUT_S = 60.0


@dataclass
class Handover:
    how: str  # sigterm | kill
    seconds: float  # from the signal to the new epoch's first order on the exchange
    after_release: float | None  # from the old holder's lease release (SIGTERM) to that order
    after_expiry: float | None  # from the end of the dead holder's last renewal (kill) to it
    cycles: int  # the new holder's cycles from the old one's stop to its first quotes
    old_left: int  # orders of the old epoch still resting once the new epoch quotes
    old_cancelled_by_dora: int  # old-epoch orders cancelled one by one after the takeover
    # from the last create the exchange refused with an injected 5xx (before doing anything)
    # between the takeover and the first order, to that order; None: no such refusal
    after_refused_create: float | None = None


@dataclass
class LeaseFigures:
    handovers: list[Handover] = field(default_factory=list)
    epochs_quoting_at_once: int = 0  # the most epochs of one shard seen resting together
    tags_per_market: int = 0  # the most shard tags seen resting in one market at once
    samples: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self, name: str) -> str:
        parts = [f"lease {name}"]
        for how in ("sigterm", "kill"):
            times = [h.seconds for h in self.handovers if h.how == how]
            if times:
                parts.append(f"{how} takeover s: n={len(times)} min={min(times):.2f} "
                             f"median={statistics.median(times):.2f} max={max(times):.2f}")
            expired = [h.after_expiry for h in self.handovers
                       if h.how == how and h.after_expiry is not None]
            if expired:
                parts.append(f"from the lease's end s: min={min(expired):.2f} "
                             f"median={statistics.median(expired):.2f}")
            released = [h.after_release for h in self.handovers
                        if h.how == how and h.after_release is not None]
            if released:
                parts.append(f"from the release s: min={min(released):.2f} "
                             f"median={statistics.median(released):.2f}")
        cycles = [h.cycles for h in self.handovers if h.how == "sigterm"]
        if cycles:
            parts.append(f"sigterm cycles to quote: {cycles}")
        refused = [round(h.after_refused_create, 2) for h in self.handovers
                   if h.after_refused_create is not None]
        if refused:
            parts.append(f"quoted s after a refused create (held for its grace): {refused}")
        parts.append(f"most epochs at once={self.epochs_quoting_at_once} "
                     f"most shard tags per market={self.tags_per_market} samples={self.samples}")
        return " | ".join(parts + self.notes)


def tags(order: Any) -> tuple[int, int]:
    tag = order_tag(order.client_order_id, PREFIX)
    assert tag is not None, f"an order without its epoch: {order.client_order_id}"
    return tag


def acquired_epoch(process: DoraProcess) -> int:
    events = [e for e in process.of_type("LEASE") if e.get("lease_event") == "acquired"]
    return int(events[-1]["epoch"]) if events else 0


def holder_of(processes: list[DoraProcess]) -> DoraProcess:
    alive = [p for p in processes if p.proc.poll() is None]
    holders = [p for p in alive if acquired_epoch(p) and not _lost_since_acquired(p)]
    assert len(holders) == 1, f"{len(holders)} holders among {len(alive)} processes"
    return holders[0]


def _lost_since_acquired(process: DoraProcess) -> bool:
    lease = [e.get("lease_event") for e in process.of_type("LEASE")]
    acquired = max(i for i, e in enumerate(lease) if e == "acquired")
    return any(e in ("lost", "released") for e in lease[acquired:])


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str,
               every: Callable[[], None] | None = None,
               explain: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}"
                                 + (f"\n{explain()}" if explain is not None else ""))
        if every is not None:
            every()
        time.sleep(0.05)


def sample(rig: ChaosRig, figures: LeaseFigures) -> None:
    """One look at the exchange: how many epochs of a shard, and shards in a market, rest."""
    epochs: dict[int, set[int]] = defaultdict(set)
    shards: dict[str, set[int]] = defaultdict(set)
    for order in rig.resting():
        epoch, shard = tags(order)
        epochs[shard].add(epoch)
        shards[order.ticker].add(shard)
    figures.samples += 1
    figures.epochs_quoting_at_once = max([figures.epochs_quoting_at_once,
                                          *(len(e) for e in epochs.values())])
    figures.tags_per_market = max([figures.tags_per_market,
                                   *(len(s) for s in shards.values())])


def first_order_of_epoch(rig: ChaosRig, shard: int, newer_than: int) -> Any | None:
    orders = [o for o in rig.all_orders() if tags(o)[1] == shard and tags(o)[0] > newer_than]
    return min(orders, key=lambda o: o.created_ms) if orders else None


def start_pair(rig: ChaosRig, figures: LeaseFigures) -> list[DoraProcess]:
    """Two processes started together: exactly one quotes, the other stands by."""
    pair = [rig.start_dora(), rig.start_dora()]

    def steady() -> bool:
        return sum(holder_cycles(p.events) >= 3 for p in pair) == 1 and \
            all(p.cycles() >= 3 for p in pair)
    wait_until(steady, START_TIMEOUT_S, "one holder and one standby", lambda: sample(rig, figures))
    return pair


def hand_over(rig: ChaosRig, processes: list[DoraProcess], how: str,
              figures: LeaseFigures) -> DoraProcess:
    """Stop the holder (SIGTERM or kill -9); the standby takes over. Returns the new holder."""
    old = holder_of(processes)
    old_epoch = acquired_epoch(old)
    sent = time.time()
    if how == "sigterm":
        old.terminate()
        assert old.proc.returncode == 0, old.tail()
    else:
        old.kill()
    expires_s = _lease_end_s(rig, 0, old_epoch) if how == "kill" else None
    wait_until(lambda: first_order_of_epoch(rig, 0, old_epoch) is not None, TAKEOVER_TIMEOUT_S,
               f"the standby's quotes after a {how}", lambda: sample(rig, figures))
    first = first_order_of_epoch(rig, 0, old_epoch)
    new = holder_of(processes)
    wait_until(lambda: holder_cycles(new.events) >= 3, START_TIMEOUT_S, "three quoting cycles",
               lambda: sample(rig, figures))
    old_ids = {o.order_id for o in rig.all_orders() if tags(o)[0] <= old_epoch}
    # from the takeover on: a cancel the old holder had in flight when killed may still land
    # just after the signal, and is not the new holder's doing
    cancelled_by_dora = {a.order_id for a in rig.sim.context.counters.cancel_answers()
                         if _answer_ms(a) >= _acquired_s(new) * 1000} & old_ids
    released = [_ts(e) for e in old.of_type("LEASE") if e.get("lease_event") == "released"]
    figures.handovers.append(Handover(
        how=how, seconds=first.created_ms / 1000 - sent,
        after_release=first.created_ms / 1000 - released[-1] if released else None,
        after_expiry=None if expires_s is None else first.created_ms / 1000 - expires_s,
        cycles=_cycles_to_quote(old, new, first.created_ms / 1000),
        old_left=sum(1 for o in rig.resting() if tags(o)[0] <= old_epoch),
        old_cancelled_by_dora=len(cancelled_by_dora),
        after_refused_create=_after_refused_create(rig, _acquired_s(new), first.created_ms),
    ))
    return new


def _after_refused_create(rig: ChaosRig, acquired_s: float, first_ms: int) -> float | None:
    """A create refused with a 5xx has an unknown outcome to dora: it holds what would replace
    it for the unconfirmed grace, by design. From the last such refusal after the takeover to the
    first order, if there was one."""
    refused = [ms for method, template, ms in rig.sim.context.counters.faults()
               if method == "POST" and template in CREATE_TEMPLATES
               and acquired_s * 1000 <= ms <= first_ms]
    return (first_ms - max(refused)) / 1000 if refused else None


def _lease_end_s(rig: ChaosRig, shard: int, epoch: int) -> float:
    """When the killed holder's lease ends by its own last renewal (read once any renewal it
    had in flight has landed). The holder may have renewed up to a tenth of a lease before the
    kill, so a takeover may come that much sooner than a whole lease after the kill."""
    time.sleep(0.5)
    record = rig.store.leases.read_one(lease_key(shard))
    assert record is not None and record.epoch == epoch, record
    return record.expires_at_ms / 1000


def _answer_ms(answer: Any) -> int:
    return int(answer.ts_ms)


def _cycles_to_quote(old: DoraProcess, new: DoraProcess, first_order_s: float) -> int:
    """The new holder's cycles from the old one's stop (its SHUTDOWN line; after a kill, the
    new one's acquisition) to the cycle in which its first order reached the exchange. Judged by
    the exchange's own record, since under injected faults a create may land with its answer
    lost (dora then counts it as unknown, not placed) while the quote rests all the same."""
    stopped = [_ts(e) for e in old.of_type("SHUTDOWN")]
    start = stopped[-1] if stopped else _acquired_s(new)
    cycles = 0
    for event in new.of_type("CYCLE_SUMMARY"):
        if _ts(event) <= start:
            continue
        cycles += 1
        if _ts(event) >= first_order_s:
            return cycles
    return cycles


def _acquired_s(process: DoraProcess) -> float:
    """When the process last acquired the lease (its LEASE line)."""
    return max(_ts(e) for e in process.of_type("LEASE") if e.get("lease_event") == "acquired")


def _ts(event: Event) -> float:
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).timestamp()


def health_check(process: DoraProcess) -> int:
    """The container health check (`python -m dora.cli.health`) on the process's heartbeat."""
    env = {**os.environ, "DORA_HEARTBEAT_FILE": str(process.heartbeat)}
    return subprocess.run([sys.executable, "-m", "dora.cli.health"], env=env, timeout=30,
                          capture_output=True, check=False).returncode


def run_handovers(rig: ChaosRig, how: str, count: int) -> LeaseFigures:
    figures = LeaseFigures()
    processes = start_pair(rig, figures)
    standby = next(p for p in processes if not holder_cycles(p.events))
    figures.notes.append(f"standby health check exit {health_check(standby)}")
    for _ in range(count):
        holder_of(processes)
        standby = rig.start_dora()  # the next standby, before the holder goes
        processes.append(standby)
        wait_until(lambda s=standby: s.cycles() >= 2, START_TIMEOUT_S, "a new standby")
        hand_over(rig, processes, how, figures)
    for process in processes:
        if process.proc.poll() is None:
            process.terminate()
            assert process.proc.returncode == 0, process.tail()
    return figures


def run_freeze(rig: ChaosRig) -> tuple[LeaseFigures, dict[str, int]]:
    """The holder freezes (SIGSTOP) past its lease; the standby takes over; the old holder
    resumes (SIGCONT) in the middle of whatever it was doing."""
    figures = LeaseFigures()
    processes = start_pair(rig, figures)
    frozen = holder_of(processes)
    epoch = acquired_epoch(frozen)
    frozen.pause()
    wait_until(lambda: first_order_of_epoch(rig, 0, epoch) is not None, TAKEOVER_TIMEOUT_S,
               "the standby's quotes", lambda: sample(rig, figures))
    time.sleep(0.5)
    resumed_at = time.time()
    seen = len(frozen.events)
    frozen.resume()
    wait_until(lambda: frozen.cycles() >= _cycles(frozen, seen) + 5 and len(frozen.events) > seen,
               START_TIMEOUT_S, "the resumed process's cycles", lambda: sample(rig, figures))
    after = frozen.events[seen:]
    found = {
        "old_epoch_orders_after_resume": sum(
            1 for o in rig.all_orders()
            if tags(o)[0] == epoch and o.created_ms >= resumed_at * 1000),
        "old_epoch_resting": sum(1 for o in rig.resting() if tags(o)[0] == epoch),
        "state_saves_after_resume": sum(1 for e in after if e.get("event_type") == "STATE_SAVE"),
        "lease_lost_events": sum(1 for e in after if e.get("lease_event") == "lost"),
        "holder_cycles_after_resume": holder_cycles(after),
    }
    for process in processes:
        process.terminate()
        assert process.proc.returncode == 0, process.tail()
    return figures, found


def _cycles(process: DoraProcess, upto: int) -> int:
    return sum(1 for e in process.events[:upto] if e.get("event_type") == "CYCLE_SUMMARY")


def run_shards(rig: ChaosRig, shards: int) -> tuple[LeaseFigures, set[str]]:
    """``shards`` + 1 processes over the rig's markets; one holder is killed and the standby
    takes its shard over. Returns the figures and the markets quoted after the takeover."""
    figures = LeaseFigures()
    processes = [rig.start_dora(shards=shards) for _ in range(shards + 1)]
    tickers = set(rig.tickers[:rig.markets])

    def quoted() -> set[str]:
        return {o.ticker for o in rig.resting()}
    wait_until(lambda: quoted() == tickers and sum(holder_cycles(p.events) >= 2
                                                   for p in processes) == shards,
               START_TIMEOUT_S * 2, "every market quoted", lambda: sample(rig, figures))
    for _ in range(30):
        sample(rig, figures)
        time.sleep(0.1)
    victim = next(p for p in processes if holder_cycles(p.events))
    acquired = [e for e in victim.of_type("LEASE") if e.get("lease_event") == "acquired"][-1]
    shard = int(str(acquired["shard"]).split("/")[0]) - 1
    epoch = int(acquired["epoch"])
    killed = time.time()
    victim.kill()
    expires_s = _lease_end_s(rig, shard, epoch)
    wait_until(lambda: first_order_of_epoch(rig, shard, epoch) is not None, TAKEOVER_TIMEOUT_S,
               "the standby's quotes on the dead shard", lambda: sample(rig, figures),
               lambda: _what_the_survivors_did(processes, killed))
    first = first_order_of_epoch(rig, shard, epoch)
    figures.handovers.append(Handover(
        how="kill", seconds=first.created_ms / 1000 - killed, after_release=None,
        after_expiry=first.created_ms / 1000 - expires_s, cycles=0,
        old_left=sum(1 for o in rig.resting() if tags(o) == (epoch, shard)),
        old_cancelled_by_dora=0))
    seen: set[str] = set()

    def all_quoted_again() -> bool:  # a market's quotes may be between fill and replacement
        seen.update(quoted())
        return seen == tickers
    wait_until(all_quoted_again, START_TIMEOUT_S, "every market quoted again",
               lambda: sample(rig, figures))
    for _ in range(20):
        sample(rig, figures)
        time.sleep(0.1)
    for process in processes:
        if process.proc.poll() is None:
            process.terminate()
            assert process.proc.returncode == 0, process.tail()
    return figures, seen


def _what_the_survivors_did(processes: list[DoraProcess], since_s: float) -> str:
    """For a takeover that did not come: each live process's lines since the kill, but the
    per-cycle metrics, each cut short (the cycle summaries say role, shard and phase times)."""
    parts = []
    for index, process in enumerate(processes):
        if process.proc.poll() is not None:
            continue
        lines = [json.dumps(e)[:400] for e in list(process.events)
                 if _ts(e) >= since_s and e.get("event_type") not in ("METRICS", "HEARTBEAT")]
        parts.append(f"--- process {index}, since the kill (last 40) ---\n"
                     + "\n".join(lines[-40:]))
    return "\n".join(parts)


def statuses(rig: ChaosRig, epoch: int) -> set[OrderStatus]:
    return {o.status for o in rig.all_orders() if tags(o)[0] == epoch}
