"""Composition: build the client, store and bot from settings, and run it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from dora.bot.loop import EXIT_FATAL, Bot, LoopSettings
from dora.bot.metrics import emit_fatal_exit
from dora.bot.persistence import Persister
from dora.bot.snapshot import SnapshotPublisher
from dora.bot.status import StatusSink
from dora.cli.config import RunSettings
from dora.cli.local import LocalEnvironment, local_environment, seed_example_configs
from dora.cli.report import write_session_report
from dora.cli.status_page import serving_status_page
from dora.cli.target import (
    ENDPOINTS_FILE,
    EXCHANGE_URL_KEY,
    LOCAL_DIR,
    PID_KEY,
    remove_endpoints,
    write_endpoints,
)
from dora.core.errors import ConfigError, DoraError
from dora.core.tiers import tier_named
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials, base_url_for
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import Clock, SystemClock
from dora.runtime.deadline import StopSignal
from dora.runtime.logs import EventType, bot_version, log_event, new_run_id, setup_logging
from dora.store.store import Store, dynamodb_variants, make_dynamodb_resource

LOCAL_LOG_DIR = LOCAL_DIR
LOG_SERVICE = "dora-bot"  # the predecessor's value: saved Logs Insights queries filter on it


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    credentials: Credentials


def build_client(connection: Connection, tier: str, clock: Clock) -> KalshiClient:
    limiter = RateLimiter(tier_named(tier), clock, logging.getLogger("dora.ratelimit"))
    return KalshiClient(connection.url, connection.credentials, limiter, clock)


def resolve_connection(settings: RunSettings, environ: Mapping[str, str]) -> Connection:
    """Exchange URL and credentials for a non-embedded run."""
    url = base_url_for(settings.env, url=settings.url, ready_file=settings.ready_file)
    if settings.ready_file and not environ.get("KALSHI_API_KEY_ID"):
        return Connection(url, Credentials.from_ready_file(settings.ready_file))
    try:
        return Connection(url, Credentials.from_env(environ))
    except (KeyError, ValueError) as exc:
        raise ConfigError(
            f"{exc}. Set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH (or KALSHI_PRIVATE_KEY)."
        ) from exc


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM/SIGINT set the returned event; the loop then shuts down cleanly."""
    stop = StopSignal()  # remembers when: the stop budget runs from the signal

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_bot(
    settings: RunSettings, loop_settings: LoopSettings, environ: Mapping[str, str],
    *, status_line: bool, http: str | None = None,
) -> int:
    clock = SystemClock()
    run_id = new_run_id(clock)
    log_stream = _log_stream(status_line, run_id)
    setup_logging(service=LOG_SERVICE, env=settings.env, run_id=run_id, version=bot_version(),
                  stream=log_stream)
    status = StatusSink() if status_line else None
    labels = (("env", settings.env), ("tier", settings.tier))
    with stop_on_signals() as stop, serving_status_page(
        http, embedded=settings.embedded, environ=environ, clock=clock, labels=labels,
    ) as snapshots:
        if settings.embedded:
            code = _run_embedded(settings, loop_settings, clock, run_id, stop, status, snapshots)
        else:
            resource = make_dynamodb_resource(settings.dynamodb_endpoint, settings.region)
            connection = resolve_connection(settings, environ)
            log_startup_config(settings, loop_settings, connection.url, settings.dynamodb_endpoint)
            store = Store(resource, settings.table_env, clock,
                          variants=dynamodb_variants(settings.dynamodb_endpoint, settings.region))
            client = build_client(connection, settings.tier, clock)
            code = _run(client, store, clock, loop_settings, run_id, stop, status, snapshots)
    if code == EXIT_FATAL:
        emit_fatal_exit(logging.getLogger("dora"), env=loop_settings.env,
                        timestamp_ms=clock.now_ms())
    return code


def log_startup_config(
    settings: RunSettings, loop_settings: LoopSettings, exchange_url: str,
    dynamodb_endpoint: str | None,
) -> None:
    """One line that says what this process talks to, before it talks to anything."""
    log_event(logging.getLogger("dora"), EventType.CONFIG, "configuration",
              exchange_url=exchange_url, table_env=settings.table_env,
              table_suffix=f"_{settings.table_env}", region=settings.region, tier=settings.tier,
              mode=loop_settings.default_mode.value, shards=settings.shards,
              dynamodb_endpoint=dynamodb_endpoint or "aws",
              heartbeat_file=loop_settings.heartbeat_file or "")


def _run_embedded(
    settings: RunSettings, loop_settings: LoopSettings, clock: Clock, run_id: str,
    stop: threading.Event, status: StatusSink | None, snapshots: SnapshotPublisher | None,
) -> int:
    started_ms = clock.now_ms()
    with local_environment(clock, tier=settings.tier) as local:
        key_path = local.sim.private_key_path
        if key_path is None:
            raise ConfigError("the embedded simulator did not generate a key")
        credentials = Credentials.from_pem(local.sim.key_id, Path(key_path).read_bytes())
        client = build_client(Connection(local.sim.url, credentials), settings.tier, clock)
        tickers = [m.ticker for m in client.fetch_markets(status="open")]
        seed_example_configs(local.store, tickers)
        log_startup_config(settings, loop_settings, local.sim.url, local.dynamo.endpoint_url)
        log_event(logging.getLogger("dora"), EventType.STARTUP,
                  "embedded local exchange and DynamoDB started", exchange_url=local.sim.url,
                  dynamodb_endpoint=local.dynamo.endpoint_url, markets=len(tickers),
                  endpoints_file=str(ENDPOINTS_FILE))
        with _endpoints_file(local, key_path):
            code = _run(client, local.store, clock, loop_settings, run_id, stop, status,
                        snapshots)
        _report_session(local.store, run_id, started_ms, clock)
        return code


@contextmanager
def _endpoints_file(local: LocalEnvironment, key_path: str) -> Iterator[None]:
    """`.dora-local/endpoints.env` while the embedded stack runs: `dora status --local` etc."""
    pid = os.getpid()
    write_endpoints(ENDPOINTS_FILE, {
        EXCHANGE_URL_KEY: local.sim.url, "KALSHI_API_KEY_ID": local.sim.key_id,
        "KALSHI_PRIVATE_KEY_PATH": key_path, "DORA_DYNAMODB_ENDPOINT": local.dynamo.endpoint_url,
        "DORA_TABLE_ENV": local.store.env, PID_KEY: str(pid),
    })
    try:
        yield
    finally:
        remove_endpoints(ENDPOINTS_FILE, pid)


def _run(
    client: KalshiClient, store: Store, clock: Clock, loop_settings: LoopSettings, run_id: str,
    stop: threading.Event, status: StatusSink | None, snapshots: SnapshotPublisher | None,
) -> int:
    logger = logging.getLogger("dora.loop")
    bot = Bot(client, Persister(store, logger, run_id), clock, logger, loop_settings, run_id,
              stop, status, snapshots)
    code = bot.run()
    if status is not None:
        status.finish(bot.tally)
    return code


def _report_session(store: Store, run_id: str, started_ms: int, clock: Clock) -> None:
    """The embedded tables vanish with the process: keep the session's P&L report."""
    try:
        paths = write_session_report(store, run_id, started_ms, clock.now_ms(), LOCAL_LOG_DIR)
    except (DoraError, OSError) as exc:
        log_event(logging.getLogger("dora"), EventType.ERROR, f"session report failed: {exc}",
                  level=logging.ERROR, error_type=type(exc).__name__)
        return
    sys.stderr.write(f"P&L report: {paths[0]} (JSON: {paths[1]})\n")


def _log_stream(status_line: bool, run_id: str) -> TextIO:
    if not status_line:
        return sys.stdout
    LOCAL_LOG_DIR.mkdir(exist_ok=True)
    path = LOCAL_LOG_DIR / f"dora-{run_id}.jsonl"
    sys.stderr.write(f"JSON logs: {path}\n")
    return path.open("a", encoding="utf-8")
