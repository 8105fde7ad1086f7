"""The per-cycle CloudWatch embedded-metric-format line: its shape follows the EMF spec, its values
are the cycle summary's, and every summary field is either a metric or declared not to be one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import fields, replace
from typing import Any

import pytest

from dora.bot.metrics import (
    CYCLE_METRICS,
    NAMESPACE,
    NOT_METRICS,
    cycle_metric_values,
    emit_cycle_metrics,
    emit_fatal_exit,
)
from dora.bot.state import Mode
from dora.bot.status import CycleSummary
from tests.conftest import captured_json_logs

EMF_UNITS = {"Count", "Milliseconds", "Percent", "None"}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with captured_json_logs(env="prod", run_id="run-m") as out:
        yield out


def _metric_lines(out: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return [line for line in lines if line["event_type"] == "METRICS"]


def assert_emf(line: dict[str, Any], *, env: str, timestamp_ms: int) -> dict[str, str]:
    """The EMF spec's checks; returns metric name -> unit."""
    directive = line["_aws"]
    assert directive["Timestamp"] == timestamp_ms
    (block,) = directive["CloudWatchMetrics"]
    assert block["Namespace"] == NAMESPACE
    assert block["Dimensions"] == [["env"]]
    assert line["env"] == env  # the dimension's value is a top-level member
    units = {metric["Name"]: metric["Unit"] for metric in block["Metrics"]}
    assert 0 < len(units) <= 100
    assert set(units.values()) <= EMF_UNITS
    for name in units:  # every metric's value is a top-level number
        assert isinstance(line[name], int | float) and not isinstance(line[name], bool), name
    return units


def test_a_bot_cycle_writes_one_emf_line_with_the_summary_values(bot_env_factory,
                                                                 captured) -> None:
    env = bot_env_factory(markets=2)
    bot = env.make_bot(Mode.BATCH, env="prod")
    bot.startup()
    (summary,) = env.cycles(bot, 1)
    (line,) = _metric_lines(captured)
    units = assert_emf(line, env="prod", timestamp_ms=env.clock.now_ms() - 1000)
    assert units["CycleTime"] == "Milliseconds"
    assert line["CycleTime"] == summary.duration_ms
    assert line["OrdersPlaced"] == summary.placed > 0
    assert line["Requests"] == summary.requests
    assert line["Halted"] == 0
    assert line["FreeCashMicros"] == summary.free_cash > 0
    assert line["DailyPnlMicros"] == summary.daily_pnl
    assert line["Requests_order_writes"] == summary.by_group["order_writes"]["calls"]
    assert (line["cycle"], line["mode"], line["bot_run_id"]) == (1, "batch", "run-m")


def _summary(**overrides: Any) -> CycleSummary:
    base = CycleSummary(
        cycle=7, mode="per_market", duration_ms=12, markets_quoted=3, resting_orders=6,
        cancelled=1, placed=2, failed=1, already_gone=0, fills=4, fills_total=9, requests=11,
        tokens=110, rate_limited=2, read_headroom_pct=80, write_headroom_pct=60,
        net_position=500, daily_pnl=-1_250_000, halted=True,
        by_group={"portfolio": {"calls": 5, "tokens": 50}}, free_cash=None,
    )
    return replace(base, **overrides)


def test_values_are_read_from_the_declared_fields_and_unknown_cash_is_left_out() -> None:
    values = {spec.name: value for spec, value in cycle_metric_values(_summary())}
    assert values["Halted"] == 1
    assert values["DailyPnlMicros"] == -1_250_000
    assert values["RateLimited"] == 2
    assert values["Tokens_portfolio"] == 50
    assert "FreeCashMicros" not in values  # no balance read yet: no data, not a fake 0


def test_every_summary_field_is_a_metric_or_declared_not_to_be_one() -> None:
    metric_fields = {spec.field for spec in CYCLE_METRICS}
    summary_fields = {f.name for f in fields(CycleSummary)}
    assert metric_fields <= summary_fields
    assert summary_fields - metric_fields == NOT_METRICS, (
        "a new CycleSummary field: add it to CYCLE_METRICS or NOT_METRICS in dora/bot/metrics.py"
    )
    assert len({spec.name for spec in CYCLE_METRICS}) == len(CYCLE_METRICS)


def test_direct_emission_and_the_fatal_exit_metric(captured) -> None:
    logger = logging.getLogger("dora.test")
    emit_cycle_metrics(logger, _summary(free_cash=5_000_000), env="prod",
                       timestamp_ms=1_767_225_600_000)
    emit_fatal_exit(logger, env="prod", timestamp_ms=1_767_225_601_000)
    cycle, fatal = _metric_lines(captured)
    assert assert_emf(cycle, env="prod", timestamp_ms=1_767_225_600_000)["FreeCashMicros"] == "None"
    assert cycle["FreeCashMicros"] == 5_000_000
    assert assert_emf(fatal, env="prod", timestamp_ms=1_767_225_601_000) == {"FatalExit": "Count"}
    assert fatal["FatalExit"] == 1
    assert fatal["level"] == "INFO" and fatal["service"] == "dora-bot"
