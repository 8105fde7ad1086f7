"""`make run`'s embedded stack, driven from a second terminal: a real `dora run` process writes
.dora-local/endpoints.env, and `--local` operator commands reach its exchange and tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dora.cli.app import Connection, build_client
from dora.cli.main import main
from dora.cli.target import ENDPOINTS_FILE, read_endpoints
from dora.exchange.credentials import Credentials
from dora.runtime.clock import SystemClock
from tests.cli.conftest import wait_for

CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith(("DORA_", "KALSHI_", "AWS_"))}



def _dora_resting(endpoints: dict[str, str]) -> list:
    credentials = Credentials.from_file(endpoints["KALSHI_API_KEY_ID"],
                                        endpoints["KALSHI_PRIVATE_KEY_PATH"])
    client = build_client(Connection(endpoints["DORA_EXCHANGE_URL"], credentials), "basic",
                          SystemClock())
    return [o for o in client.fetch_resting_orders() if o.client_order_id.startswith("dora-")]


@pytest.fixture
def embedded_run(tmp_path, monkeypatch):
    """`dora run` on its embedded defaults in tmp_path (as `make run` does), logs to a file."""
    monkeypatch.chdir(tmp_path)
    log = (tmp_path / "run.jsonl").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "dora.cli.main", "run", "--duration", "120"],
                            cwd=tmp_path, env=CLEAN_ENV, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for((tmp_path / ENDPOINTS_FILE).exists, 60), "never started"
        yield proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_local_operator_commands_reach_the_running_embedded_stack(embedded_run) -> None:
    proc, workdir = embedded_run
    endpoints = read_endpoints(workdir / ENDPOINTS_FILE)
    assert endpoints["DORA_EXCHANGE_URL"].startswith("http://127.0.0.1:")
    assert endpoints["DORA_DYNAMODB_ENDPOINT"].startswith("http://127.0.0.1:")
    assert (workdir / ENDPOINTS_FILE).stat().st_mode & 0o077 == 0  # it names the key
    assert wait_for(lambda: len(_dora_resting(endpoints)) > 0, 30), "the bot never quoted"

    runner = CliRunner()  # a second terminal, same directory, nothing set but --local
    status = runner.invoke(main, ["status", "--local"], env={"DORA_TABLE_ENV": None})
    assert status.exit_code == 0, status.output
    assert "tables:      dora_state_sim" in status.output
    halted = runner.invoke(main, ["halt", "--local", "--reason", "second terminal"])
    assert halted.exit_code == 0, halted.output
    assert wait_for(lambda: not _dora_resting(endpoints), 30), "the halt never took effect"
    assert "YES - second terminal" in runner.invoke(main, ["status", "--local"]).output
    assert runner.invoke(main, ["resume", "--local"]).exit_code == 0
    assert wait_for(lambda: len(_dora_resting(endpoints)) > 0, 30), "never resumed quoting"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0
    assert not (workdir / ENDPOINTS_FILE).exists()
    assert not Path(endpoints["KALSHI_PRIVATE_KEY_PATH"]).exists()  # temp keys removed at exit
    assert not Path(endpoints["KALSHI_PRIVATE_KEY_PATH"]).parent.exists()
    lines = [json.loads(line) for line in (workdir / "run.jsonl").read_text().splitlines()
             if line.startswith("{")]
    (config,) = [line for line in lines if line["event_type"] == "CONFIG"]
    assert config["exchange_url"] == endpoints["DORA_EXCHANGE_URL"]
    assert (config["table_suffix"], config["region"], config["tier"], config["mode"],
            config["shards"]) == ("_sim", "us-east-1", "basic", "batch", None)
    assert any(line["event_type"] == "METRICS" for line in lines)
    resumed = [line for line in lines if line["event_type"] == "RISK_RESUME"]
    assert resumed and resumed[0]["level"] == "INFO"


def test_local_without_a_running_stack_says_how_to_start_one(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["status", "--local"])
    assert result.exit_code == 1
    assert "make run" in result.output
    stale = tmp_path / ENDPOINTS_FILE
    stale.parent.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale.write_text(f"DORA_DYNAMODB_ENDPOINT=http://127.0.0.1:9\nDORA_LOCAL_PID={dead.pid}\n")
    result = CliRunner().invoke(main, ["halt", "--local", "--reason", "x"])
    assert result.exit_code == 1
    assert "no longer running" in result.output
