"""The chaos suite's invariants, judged from the exchange's own record (the engine and its cancel
journal) and what dora stored in DynamoDB; dora's logs only for its own 404 classes."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.chaos.harness import ChaosRig, Event, Sample, SideKey

# A decision is logged just after its orders were sent: a sample is judged against every
# decision logged this close to it, and the one in force before.
DECISION_WINDOW_MS = 2000
# An order whose create answer was lost is invisible to dora until a listing taken after the
# read lag shows it; until then dora can only hold the side back, not cancel it. Such an order is
# excused for the lag plus this long (two windows: the listing, a cycle that may fail and retry,
# the cancel), then counted like any other: placing on top of it still shows as a violation.
UNANSWERED_GRACE_MS = 2 * DECISION_WINDOW_MS
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class TradeLogCheck:
    exchange_fills: int
    missing: int  # dora's fills on the exchange with no trade-log row
    duplicated: int  # fills with more than one row
    unknown: int  # rows for fills the exchange does not know


def trade_log_check(rig: ChaosRig) -> TradeLogCheck:
    exchange = {f.fill_id for f in rig.fills()}
    rows = rig.trade_log_fill_ids()
    return TradeLogCheck(
        exchange_fills=len(exchange),
        missing=len(exchange - set(rows)),
        duplicated=sum(1 for n in rows.values() if n > 1),
        unknown=len(set(rows) - exchange),
    )


def position_differences(rig: ChaosRig) -> dict[str, tuple[int, int]]:
    """ticker -> (stored, exchange) where they differ."""
    stored, exchange = rig.stored_positions(), rig.positions()
    return {t: (stored.get(t, 0), exchange.get(t, 0))
            for t in sorted(set(stored) | set(exchange)) if stored.get(t, 0) != exchange.get(t, 0)}


def exchange_404_classes(rig: ChaosRig) -> Counter[str]:
    """Every cancel the exchange answered 404, classed by the exchange's own record: ``stale``
    when an earlier answer for that order reached dora (it had been told the order was gone),
    ``lost_answer`` when only lost answers preceded it, ``fill_race`` when the order was filled,
    ``unexplained`` otherwise."""
    classes: Counter[str] = Counter()
    earlier: dict[str, list[bool]] = defaultdict(list)  # order id -> delivered flags
    for answer in rig.sim.context.counters.cancel_answers():
        before = earlier[answer.order_id]
        if answer.outcome == NOT_FOUND:
            if any(before):
                classes["stale"] += 1
            elif before:
                classes["lost_answer"] += 1
            elif rig.order_status(answer.order_id) == "executed":
                classes["fill_race"] += 1
            else:
                classes["unexplained"] += 1
        before.append(answer.delivered)
    return classes


def dora_404_classes(events: list[Event]) -> Counter[str]:
    """How dora classed the cancels the exchange answered "already gone" (its own log lines)."""
    return Counter(str(e.get("gone_class", "unclassified")) for e in events
                   if e.get("event_type") == "ORDER_CANCELLED"
                   and e.get("status") == "ALREADY_GONE")


@dataclass(frozen=True)
class SizeCheck:
    samples: int
    violations: list[tuple[int, SideKey, int, int]]  # (ts_ms, market side, resting, targeted)
    excused: int = 0  # samples where only orders with lost create answers exceeded the targets


def resting_size_check(rig: ChaosRig) -> SizeCheck:
    """At no sampled moment does dora rest more on a market side than its targets asked for,
    besides orders whose create answer it has not been able to see yet."""
    targets = _targets_by_ticker(rig.decisions())
    grace_ms = rig.sim.context.knobs.values.lag_ms + UNANSWERED_GRACE_MS
    violations, excused = [], 0
    for sample in list(rig.samples):
        unseen = _unseen_by_side(sample, grace_ms)
        for key, size in sample.resting.items():
            allowed = _allowed(targets.get(key[0], ([], [])), key[1], sample)
            if size - unseen.get(key, 0) > allowed:
                violations.append((sample.ts_ms, key, size, allowed))
            elif size > allowed:
                excused += 1
    return SizeCheck(len(rig.samples), violations, excused)


def _unseen_by_side(sample: Sample, grace_ms: int) -> Counter[SideKey]:
    unseen: Counter[SideKey] = Counter()
    for key, remaining, created_ms in sample.unanswered:
        if sample.ts_ms - created_ms <= grace_ms:
            unseen[key] += remaining
    return unseen


def inventory_cap_check(rig: ChaosRig) -> list[tuple[int, str, int, int]]:
    """The moments when, on the exchange, a market's position and dora's resting orders could
    pass its inventory caps were they all to fill: (ts_ms, market, worst case, cap). Orders whose
    create answer dora has not been able to see yet are left out, as in the size check."""
    cap_yes, cap_no = rig.inventory_caps()
    grace_ms = rig.sim.context.knobs.values.lag_ms + UNANSWERED_GRACE_MS
    over = []
    for sample in list(rig.samples):
        unseen = _unseen_by_side(sample, grace_ms)
        for ticker in {key[0] for key in sample.resting} | set(sample.positions):
            net = sample.positions.get(ticker, 0)
            bids = sample.resting.get((ticker, "bid"), 0) - unseen.get((ticker, "bid"), 0)
            asks = sample.resting.get((ticker, "ask"), 0) - unseen.get((ticker, "ask"), 0)
            if net + bids > cap_yes or asks - net > cap_no:
                over.append((sample.ts_ms, ticker, max(net + bids, asks - net),
                             cap_yes if net + bids > cap_yes else cap_no))
    return over


Timeline = tuple[list[int], list[dict[str, int]]]  # decided_at ms (sorted), side -> size


def _targets_by_ticker(decisions: list[dict[str, Any]]) -> dict[str, Timeline]:
    by_ticker: dict[str, list[tuple[int, dict[str, int]]]] = defaultdict(list)
    for record in decisions:
        if not record.get("market_id") or "target_quotes" not in record:
            continue
        sides: Counter[str] = Counter()
        for quote in record["target_quotes"]:
            sides[str(quote["side"])] += int(Decimal(quote["size"]) * 100)
        by_ticker[str(record["market_id"])].append((_ms(str(record["decided_at"])), dict(sides)))
    timelines = {}
    for ticker, entries in by_ticker.items():
        entries.sort(key=lambda e: e[0])
        timelines[ticker] = ([t for t, _ in entries], [s for _, s in entries])
    return timelines


def _allowed(timeline: Timeline, side: str, sample: Sample) -> int:
    times, sides = timeline
    first = max(bisect_right(times, sample.ts_ms - DECISION_WINDOW_MS) - 1, 0)
    last = bisect_right(times, sample.ts_ms + DECISION_WINDOW_MS)
    return max((s.get(side, 0) for s in sides[first:last]), default=0)


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
