"""dora as an operator runs it: a real process, signals, exit codes."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from dora.bot.loop import EXIT_FATAL, Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.cli.app import Connection, build_client
from dora.exchange.credentials import Credentials
from dora.runtime.clock import SystemClock
from dora.sim.http.auth import generate_key_pair_pem
from dora.store.store import Store, make_dynamodb_resource
from tests.cli.conftest import wait_for
from tests.conftest import GLOBAL_CONFIG, MARKET_CONFIG


def _dora_resting(sim) -> list:
    with sim.lock:
        return [o for o in sim.engine.orders("dora") if o.status.value == "resting"
                and o.client_order_id.startswith("dora-")]



def test_sigterm_cancels_dora_orders_and_exits_zero(sim_factory, dynamo_endpoint, tmp_path):
    sim = sim_factory(markets=2, tier="prestige")
    store = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "demo", SystemClock())
    store.create_tables()
    with sim.lock:
        tickers = [m.ticker for m in sim.engine.markets(status="open")][:2]
    for ticker in tickers:
        store.put_market_config_item({"market_id": ticker, **MARKET_CONFIG})
    store.set_global_fields({**GLOBAL_CONFIG, "loop_interval_ms": 200})
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps({"url": sim.url, "key_id": sim.key_id,
                                 "private_key_path": sim.private_key_path}))
    env = {**os.environ, "DORA_SIM_READY_FILE": str(ready), "DORA_TABLE_ENV": "demo",
           "DORA_DYNAMODB_ENDPOINT": dynamo_endpoint,
           "DORA_HEARTBEAT_FILE": str(tmp_path / "heartbeat.json")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dora.cli.main", "run", "--batch", "--env", "sim", "--url", sim.url,
         "--tier", "prestige"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert wait_for(lambda: len(_dora_resting(sim)) >= 4, 30), "bot never quoted"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output[-2000:]
    assert time.monotonic() - started < 30
    assert _dora_resting(sim) == []
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e["event_type"] == "SHUTDOWN" and e["left_resting"] == 0 for e in events)


def test_fatal_error_stops_and_exits_non_zero(bot_env_factory):
    env = bot_env_factory(markets=1, flow=False)
    stranger_pem, _ = generate_key_pair_pem()  # a key the exchange does not know: 401
    client = build_client(
        Connection(env.sim.url, Credentials.from_pem("unknown-key", stranger_pem)),
        "prestige", env.clock,
    )
    logger = logging.getLogger("dora.test")
    bot = Bot(client, Persister(env.store, logger, "run-fatal"), env.clock, logger,
              LoopSettings(interval_ms=0, max_cycles=3), "run-fatal", threading.Event())
    assert bot.run() == EXIT_FATAL


def test_a_fatal_error_exits_3_not_the_usage_error_code_and_emits_the_metric(
        sim_factory, dynamo_endpoint, tmp_path):
    sim = sim_factory(markets=1, flow=False)
    stranger_pem, _ = generate_key_pair_pem()
    key = tmp_path / "stranger.pem"
    key.write_bytes(stranger_pem)
    env = {**os.environ, "DORA_DYNAMODB_ENDPOINT": dynamo_endpoint, "DORA_TABLE_ENV": "demo",
           "KALSHI_API_KEY_ID": "unknown-key", "KALSHI_PRIVATE_KEY_PATH": str(key),
           "DORA_HEARTBEAT_FILE": str(tmp_path / "heartbeat.json")}
    Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "demo",
          SystemClock()).create_tables()
    proc = subprocess.run(
        [sys.executable, "-m", "dora.cli.main", "run", "--url", sim.url, "--loops", "2"],
        check=False, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert any(e["event_type"] == "METRICS" and e.get("FatalExit") == 1 for e in events)
    usage = subprocess.run([sys.executable, "-m", "dora.cli.main", "run", "--loops", "0"],
                           check=False, env=env, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2
