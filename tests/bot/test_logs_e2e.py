"""The log tables written in the background, end to end: every row there after a clean stop,
drops counted (and the loop unheld) when DynamoDB stalls, the rows of a halt written at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from boto3.dynamodb.conditions import Key

from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.state import Mode
from dora.runtime.clock import SystemClock
from dora.store.logwriter import BackgroundLogWriter
from dora.store.store import make_dynamodb_resource
from tests.bot.test_phases_e2e import move_books
from tests.conftest import BotEnv


def table(env: BotEnv, base: str) -> Any:
    resource = make_dynamodb_resource(env.dynamo_endpoint, "us-east-1")
    return resource.Table(f"{base}_{env.env_name}")


def bot_with_log_writer(env: BotEnv, writer: Callable[[logging.Logger], BackgroundLogWriter],
                        ) -> Bot:
    logger = logging.getLogger("dora.test")
    run_id = "20260101-000000-log"
    persister = Persister(env.store, logger, run_id, logs=writer(logger))
    return Bot(env.client, persister, env.clock, logger,
               LoopSettings(default_mode=Mode.BATCH, interval_ms=0), run_id, threading.Event())


def rows(env: BotEnv, base: str, run_id: str | None = None) -> list[dict[str, Any]]:
    if run_id is not None:
        query = table(env, base).query(KeyConditionExpression=Key("bot_run_id").eq(run_id))
        return list(query["Items"])
    return list(table(env, base).scan()["Items"])


def order_events(execution_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every order event in the rows: a batch row's orders, or a single-order row itself."""
    events: list[dict[str, Any]] = []
    for row in execution_rows:
        events.extend(row.get("orders", [row]))
    return events


def test_after_a_clean_stop_every_log_row_of_the_run_is_in_dynamodb(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    """The writer is slow (0.2 s a batch): rows are still queued when the stop begins."""
    env = bot_env_factory(markets=3)
    bot = bot_with_log_writer(
        env, lambda log: BackgroundLogWriter(SlowSink(env.store.write_log_batch, 0.2), log))
    bot.startup()
    summaries = env.cycles(bot, 8)
    assert bot.persister.log_stats().backlog > 0
    outcome = bot.shutdown(reason="test")
    assert outcome.steps["flush_logs"] == "ok" and outcome.log_rows_unwritten == 0
    executed = rows(env, "dora_execution_log", bot.run_id)
    orders = [e for e in order_events(executed) if e.get("event_type") != "FILL"]
    expected = sum(s.placed + s.cancelled + s.already_gone + s.failed for s in summaries)
    assert len(orders) == expected > 0
    fills = [r for r in executed if r.get("event_type") == "FILL"]
    assert len(fills) == bot.state.fills_total
    batches = [r for r in executed if r["event_type"] in ("BATCH_CANCEL", "BATCH_PLACE")]
    assert batches and all(r["count"] == len(r["orders"]) for r in batches)
    assert len(executed) < expected  # one row per batch request, not per order
    decided = [r for r in rows(env, "dora_decision_log") if r.get("bot_run_id") == bot.run_id]
    assert len([r for r in decided if r.get("market_id")]) >= len(env.tickers)


def test_with_execution_log_per_order_each_order_has_its_own_row(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory(markets=2, flow=False)
    env.store.set_global_fields({"execution_log_per_order": True})
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    summaries = env.cycles(bot, 2)
    bot.shutdown(reason="test")
    executed = rows(env, "dora_execution_log", bot.run_id)
    assert all("orders" not in r and "batch" not in r for r in executed)
    assert {r["status"] for r in executed} == {"ACCEPTED"}
    assert len(executed) == sum(s.placed for s in summaries) > 0
    assert all(r["decision_id"].startswith(bot.run_id) for r in executed)


class SlowSink:
    """DynamoDB that takes a while over every log write."""

    def __init__(self, write: Callable[..., list[dict[str, Any]]], seconds: float) -> None:
        self.write = write
        self.seconds = seconds
        self.clock = SystemClock()

    def __call__(self, table: str, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self.clock.sleep(self.seconds)
        return self.write(table, items)


class StalledSink:
    """DynamoDB that never answers the log writer (until released)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, table: str, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self.release.wait(30)
        return []


def test_a_stalled_log_table_never_holds_the_loop_and_its_drops_are_counted(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory(markets=3, flow=False)
    sink = StalledSink()
    bot = bot_with_log_writer(env, lambda log: BackgroundLogWriter(sink, log, capacity=12))
    bot.startup()
    summaries = []
    for cycle in range(6):  # none would end if a cycle waited for the writer
        move_books(env.sim, env.tickers, cycle)
        summaries += env.cycles(bot, 1)
    assert all(s.placed == 2 * len(env.tickers) for s in summaries)  # quoting went on
    assert summaries[-1].log_backlog == 12
    assert sum(s.log_dropped for s in summaries) > 0
    sink.release.set()
    assert bot.persister.flush_logs(10)


def test_a_halt_writes_its_record_before_the_cycle_ends(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    """The writer is slow (1.5 s a batch), so without the flush on a halt the record would
    still be queued when the halt's cycle ends."""
    env = bot_env_factory(markets=2, flow=False)
    bot = bot_with_log_writer(
        env, lambda log: BackgroundLogWriter(SlowSink(env.store.write_log_batch, 1.5), log))
    bot.startup()
    env.cycles(bot, 2)
    assert bot.persister.flush_logs(30)
    operator = env.operator_store()
    risk = operator.load_state().risk
    operator.save_risk_state(replace(risk, trading_halted=True, halt_reason="operator"))
    for _ in range(3):
        env.cycles(bot, 1)
        if bot.state.risk.trading_halted:
            break
    specials = [r for r in rows(env, "dora_decision_log")
                if r.get("bot_run_id") == bot.run_id and r.get("reason") == "risk_halt_cancel"]
    assert len(specials) == 1
