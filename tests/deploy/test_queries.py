"""The Logs Insights queries in deploy/cloudwatch-queries.md name fields that dora's log lines have.

A bot runs against the local exchange and DynamoDB through halts, a resume, per-market and batch
rejections, 503s (retries), 429s (a sim tier below the client's), fills and a fatal error, with
its JSON lines captured; every field a query reads must appear in a line of the event types the
query filters on (or in any line, for a query without an event filter).
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from dora.bot.loop import EXIT_FATAL, Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.state import Mode
from dora.cli.app import Connection, build_client, log_startup_config
from dora.cli.config import resolve_settings
from dora.exchange.credentials import Credentials
from dora.runtime.logs import EventType
from dora.sim.http.auth import generate_key_pair_pem
from tests.conftest import captured_json_logs

QUERIES_FILE = Path(__file__).parents[2] / "deploy" / "cloudwatch-queries.md"
KEYWORDS = frozenset({
    "filter", "stats", "sort", "limit", "fields", "display", "by", "as", "in", "and", "or",
    "not", "asc", "desc", "like", "dedup", "parse", "pattern",
})
FUNCTIONS = frozenset({
    "count", "count_distinct", "latest", "earliest", "max", "min", "avg", "sum", "pct", "bin",
    "ispresent", "stddev",
})


def queries() -> list[str]:
    """The indented (4-space) code blocks of the queries file, one query each."""
    blocks: list[str] = []
    current: list[str] = []
    for line in [*QUERIES_FILE.read_text().splitlines(), ""]:
        if line.startswith("    "):
            current.append(line.strip())
        elif current:
            blocks.append(" ".join(current))
            current = []
    return blocks


FILTERED = ("event_type", "level")  # filters whose values select the lines a query reads


def query_filters(query: str) -> dict[str, set[str]]:
    """``filter event_type = "X"`` / ``filter level in ["A", "B"]`` -> {field: values}."""
    found: dict[str, set[str]] = {}
    for name in FILTERED:
        match = re.search(rf'\b{name}\s*(?:=\s*("[^"]*")|in\s*\[([^\]]*)\])', query)
        if match:
            found[name] = set(re.findall(r'"([^"]*)"', match.group(1) or match.group(2)))
    return found


def query_fields(query: str) -> tuple[set[str], set[str]]:
    """(fields the query reads, event types it filters on)."""
    events = query_filters(query).get("event_type", set())
    without_strings = re.sub(r'"[^"]*"', " ", query)
    aliases = set(re.findall(r"\bas\s+([A-Za-z_]\w*)", without_strings))
    names = set(re.findall(r"(?<![@\w])([A-Za-z_]\w*)\b(?!\s*\()", without_strings))
    names -= KEYWORDS | FUNCTIONS | aliases
    names = {n for n in names if not re.fullmatch(r"\d+[smhd]", n)}
    return names, events


def test_the_query_parser_finds_fields_and_events() -> None:
    fields, events = query_fields(
        'filter event_type in ["A_B", "C"] | stats count(*) as n by bin(5m), endpoint, market'
    )
    assert fields == {"event_type", "endpoint", "market"}
    assert events == {"A_B", "C"}
    assert len(queries()) >= 8


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with captured_json_logs(run_id="20260101-000000-q00000") as out:
        yield out


def _exercise(env: Any) -> None:
    bot = env.make_bot(Mode.BATCH, heartbeat_every=1)
    bot.startup()
    env.cycles(bot, 3)
    with env.sim.lock:
        env.sim.engine.set_trading_active(False)  # creates rejected: BATCH_PLACE_FAILED
    env.cycles(bot, 2)
    env.store.set_global_fields({"use_batch_execution": False})
    env.cycles(bot, 2)  # per-market: ORDER_PLACE_FAILED
    with env.sim.lock:
        env.sim.engine.set_trading_active(True)
    _operator_halt(env, True, "query test")
    env.cycles(bot, 3)
    _operator_halt(env, False, "")
    env.set_knobs(fault_rate="1/4")  # seeded draws: retries always get through here
    env.cycles(bot, 3)
    env.set_knobs(fault_rate="0")
    # the exchange now enforces a lower tier than the client's buckets assume: 429s
    requests.post(f"{env.sim.control_url}/tier", json={"tier": "basic"},
                  timeout=5).raise_for_status()
    for _ in range(80):  # a burst the client's (prestige) buckets allow and the exchange's don't
        env.client.fetch_balance()


def _operator_halt(env: Any, halted: bool, reason: str) -> None:
    operator = env.operator_store()
    risk = operator.load_state().risk
    operator.save_risk_state(replace(risk, trading_halted=halted, halt_reason=reason))


def _fatal_run(env: Any) -> None:
    stranger_pem, _ = generate_key_pair_pem()  # unknown to the exchange: 401, a fatal error
    client = build_client(Connection(env.sim.url, Credentials.from_pem("unknown", stranger_pem)),
                          "prestige", env.clock)
    logger = logging.getLogger("dora.test")
    bot = Bot(client, Persister(env.store, logger, "run-fatal"), env.clock, logger,
              LoopSettings(interval_ms=0, max_cycles=1), "run-fatal", threading.Event())
    assert bot.run() == EXIT_FATAL


def test_every_query_field_exists_in_the_lines_dora_writes(bot_env_factory, captured) -> None:
    env = bot_env_factory(markets=3)
    settings = resolve_settings(env="sim", url=env.sim.url, tier="prestige", environ={})
    log_startup_config(settings, LoopSettings(), env.sim.url, env.dynamo_endpoint)
    _exercise(env)
    _fatal_run(env)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    seen_events = {line["event_type"] for line in lines}
    known_events = {e.value for e in EventType}
    problems = []
    for query in queries():
        fields, events = query_fields(query)
        assert events <= known_events, f"{query}: unknown event types {events - known_events}"
        filters = query_filters(query)
        pool = [line for line in lines
                if all(line.get(name) in values for name, values in filters.items())]
        if not pool:
            problems.append(f"no line matches {filters}")
            continue
        present = set().union(*(line.keys() for line in pool))
        if fields - present:
            problems.append(f"{sorted(fields - present)} missing for: {query[:70]}")
    assert not problems, "\n".join(problems) + f"\nevents seen: {sorted(seen_events)}"
    _check_gaps_the_old_queries_had(lines)


def _check_gaps_the_old_queries_had(lines: list[dict[str, Any]]) -> None:
    fills = [line for line in lines if line["event_type"] == "FILL" and line.get("fill_id")]
    assert fills, "the run saw no fills"
    assert all(line["client_order_id"].startswith("dora-") for line in fills)
    halts = [line for line in lines if line["event_type"] == "RISK_HALT"]
    assert halts and all(line["halted"] is True for line in halts)  # a resume is RISK_RESUME
    retries = [line for line in lines if line["event_type"] == "RETRY"]
    assert {line["status_code"] for line in retries} >= {503, 429}
    assert all(line["endpoint"] and line["error_type"] for line in retries)
    assert any(line["level"] == "CRITICAL" and line["event_type"] == "ERROR" for line in lines)
