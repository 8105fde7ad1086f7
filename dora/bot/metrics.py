"""CloudWatch metrics as embedded metric format (EMF) log lines, one per cycle.

CloudWatch Logs turns a JSON log line carrying an ``_aws`` directive into metric data points
(docs/aws-notes.md#embedded-metrics), so dora needs no metrics API call, no agent and no IAM
permission: the line goes wherever the JSON logs go (stdout -> awslogs on ECS).

The documents are built and serialised by the maintained ``aws-embedded-metrics`` library
(``MetricsContext`` + ``LogSerializer``: the spec's shape, name/unit validation, the 100-metric
split). Its ``MetricsLogger``/``metric_scope`` front end is not used: it detects its environment on
first flush (probing the EC2 metadata address through an aiohttp session unless configured
otherwise) and its sink writes to ``sys.stdout`` directly, past dora's log stream; here the
finished document is written as an ordinary dora log line (``event_type`` METRICS), so it carries
the run's fields and goes to the same stream, under the same handler lock, as every other line.

Which CycleSummary field becomes which metric is declared once, in :data:`CYCLE_METRICS`; a new
summary field is either added there or to :data:`NOT_METRICS` (a test checks every field is in one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_embedded_metrics.logger.metrics_context import MetricsContext
from aws_embedded_metrics.serializers.log_serializer import LogSerializer

from dora.runtime.logs import EventType, log_event

if TYPE_CHECKING:  # status.py calls in here once per cycle
    from dora.bot.status import CycleSummary

NAMESPACE = "Dora"
DIMENSION = "env"  # one dimension: per-ticker dimensions would blow CloudWatch's cardinality


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str  # the CloudWatch metric name
    unit: str  # an EMF unit: Count, Milliseconds, Percent, None
    field: str  # the CycleSummary field it reads (an int, a bool, or None for "no data")


CYCLE_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("CycleTime", "Milliseconds", "duration_ms"),
    MetricSpec("Requests", "Count", "requests"),
    MetricSpec("Tokens", "Count", "tokens"),
    MetricSpec("RateLimited", "Count", "rate_limited"),
    MetricSpec("OrdersPlaced", "Count", "placed"),
    MetricSpec("OrdersCancelled", "Count", "cancelled"),
    MetricSpec("OrdersFailed", "Count", "failed"),
    # creates a stale plan left to the next cycle: staying up means the tier's write tokens
    # cannot keep up with the requotes (the calibration's requote_budget warning says how far)
    MetricSpec("OrdersDeferred", "Count", "orders_deferred"),
    MetricSpec("CancelsAlreadyGone", "Count", "already_gone"),
    # why (dora.core.cancel_history): races and lost answers are expected; Stale must stay 0
    MetricSpec("Cancel404FillRace", "Count", "cancel_404_fill_race"),
    MetricSpec("Cancel404LostAnswer", "Count", "cancel_404_lost_answer"),
    MetricSpec("Cancel404Stale", "Count", "cancel_404_stale"),
    # expiry renewals: failed should stay near 0; deferred staying up means too little budget
    MetricSpec("OrdersRenewed", "Count", "renewed"),
    MetricSpec("RenewalsUnknown", "Count", "renew_unknown"),
    MetricSpec("RenewalsFailed", "Count", "renew_failed"),
    MetricSpec("RenewalsDeferred", "Count", "renew_deferred"),
    MetricSpec("Fills", "Count", "fills"),
    MetricSpec("MarketsQuoted", "Count", "markets_quoted"),
    MetricSpec("RestingOrders", "Count", "resting_orders"),
    MetricSpec("Halted", "Count", "halted"),
    MetricSpec("ReadHeadroom", "Percent", "read_headroom_pct"),
    MetricSpec("WriteHeadroom", "Percent", "write_headroom_pct"),
    # Money stays exact: integer micro-dollars; dashboards and alarms divide by 1e6.
    MetricSpec("DailyPnlMicros", "None", "daily_pnl"),
    MetricSpec("FreeCashMicros", "None", "free_cash"),
    # the lease: summed over a service's tasks, LeaseHeld is the shards being quoted
    MetricSpec("LeaseHeld", "Count", "lease_held"),
    MetricSpec("LeaseRemaining", "Milliseconds", "lease_remaining_ms"),
    MetricSpec("OrderGroupTriggered", "Count", "group_triggered"),
    MetricSpec("ReadBudgetUsed", "Percent", "read_budget_used_pct"),
    MetricSpec("WriteBudgetUsed", "Percent", "write_budget_used_pct"),
    MetricSpec("BalanceMicros", "None", "balance"),
    MetricSpec("PromisedCashMicros", "None", "promised"),
    MetricSpec("MarketsClosing", "Count", "closing"),
    MetricSpec("MarketErrors", "Count", "market_errors"),
    # where the cycle's time went (docs/architecture.md#the-loop); DynamoDBWait is the part of it
    # the loop spent waiting for DynamoDB's answers
    MetricSpec("PhaseReadsTime", "Milliseconds", "reads_ms"),
    MetricSpec("PhaseComputeTime", "Milliseconds", "compute_ms"),
    MetricSpec("PhaseCancelsTime", "Milliseconds", "cancels_ms"),
    MetricSpec("PhasePlacesTime", "Milliseconds", "places_ms"),
    MetricSpec("PhasePersistTime", "Milliseconds", "persist_ms"),
    MetricSpec("DynamoDBWait", "Milliseconds", "dynamodb_ms"),
    # the background log writer: a backlog that keeps growing means DynamoDB is not keeping up;
    # dropped rows are log rows lost (never trade-log rows or state)
    MetricSpec("LogBacklog", "Count", "log_backlog"),
    MetricSpec("LogRowsDropped", "Count", "log_dropped"),
    # the lifecycle: a paused exchange, open breakers, DRIFT corrections, the oldest read's age
    MetricSpec("ExchangePaused", "Count", "exchange_paused"),
    MetricSpec("BreakersOpen", "Count", "breakers_open"),
    MetricSpec("DriftCorrections", "Count", "drift_corrections"),
    MetricSpec("OldestSyncAge", "Milliseconds", "oldest_sync_ms"),
)
# Summary fields that are deliberately not metrics (identifiers, running totals, nested maps).
NOT_METRICS = frozenset({"cycle", "mode", "fills_total", "net_position", "by_group", "role",
                         "shard", "epoch", "budget_share_pct"})
# Per endpoint group (summary.by_group): "<Metric>_<group>", e.g. Requests_order_writes.
GROUP_METRICS: Mapping[str, str] = {"calls": "Requests", "tokens": "Tokens"}
FATAL_EXIT = MetricSpec("FatalExit", "Count", "")


def cycle_metric_values(summary: CycleSummary) -> list[tuple[MetricSpec, int]]:
    """(metric, value) for one cycle; a field that is None (not known this cycle) is left out."""
    values: list[tuple[MetricSpec, int]] = []
    for spec in CYCLE_METRICS:
        value = getattr(summary, spec.field)
        if value is not None:
            values.append((spec, int(value)))
    for group, counts in sorted(summary.by_group.items()):
        for key, prefix in GROUP_METRICS.items():
            values.append((MetricSpec(f"{prefix}_{group}", "Count", key), counts.get(key, 0)))
    return values


def emf_document(
    values: list[tuple[MetricSpec, int]], *, env: str, timestamp_ms: int,
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """One EMF document: the metrics, the ``env`` dimension and queryable properties."""
    context = MetricsContext(namespace=NAMESPACE)
    context.set_dimensions([{DIMENSION: env}])
    context.meta["Timestamp"] = timestamp_ms  # the injected clock's time, not the library's
    for key, value in properties.items():
        context.set_property(key, value)
    for spec, value in values:
        context.put_metric(spec.name, value, spec.unit)
    (line,) = LogSerializer.serialize(context)  # one line while there are under 100 metrics
    document: dict[str, Any] = json.loads(line)
    return document


def emit_cycle_metrics(
    logger: logging.Logger, summary: CycleSummary, *, env: str, timestamp_ms: int
) -> None:
    document = emf_document(cycle_metric_values(summary), env=env, timestamp_ms=timestamp_ms,
                            properties={"cycle": summary.cycle, "mode": summary.mode})
    _log_document(logger, "cycle metrics", document)


def emit_fatal_exit(logger: logging.Logger, *, env: str, timestamp_ms: int) -> None:
    """A one-off FatalExit=1 data point: the bot stopped on an error it cannot trade through."""
    document = emf_document([(FATAL_EXIT, 1)], env=env, timestamp_ms=timestamp_ms,
                            properties={})
    _log_document(logger, "fatal exit metric", document)


def _log_document(logger: logging.Logger, message: str, document: dict[str, Any]) -> None:
    fields = {k: v for k, v in document.items() if k != DIMENSION}  # the line's env is the same
    log_event(logger, EventType.METRICS, message, **fields)
