"""``dora sim`` as a process: ready file once listening, clean exit on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from dora.runtime.clock import SystemClock

REPO = Path(__file__).resolve().parents[2]
LAUNCH = "from dora.cli.sim import sim_command; sim_command()"


def wait_for_file(path: Path, proc: subprocess.Popen[str], limit_s: float = 10.0) -> None:
    clock = SystemClock()
    deadline = clock.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert clock.monotonic() < deadline, "the sim never wrote its ready file"
        clock.sleep(0.05)


@contextmanager
def sim_process(ready: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """`dora sim --ready-file READY ARGS` as a process, listening; killed if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--ready-file", str(ready), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_file(ready, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_writes_ready_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    with sim_process(ready, "--port", "0", "--seed", "3", "--markets", "2", "--lag-ms", "0",
                     "--fault-rate", "0", "--key-dir", str(tmp_path / "keys")) as proc:
        info = json.loads(ready.read_text())
        assert info["url"].startswith("http://127.0.0.1:") and info["url"].endswith("/trade-api/v2")
        assert Path(info["private_key_path"]).parent == tmp_path / "keys"
        markets = requests.get(info["url"] + "/markets", timeout=5).json()["markets"]
        assert [m["ticker"] for m in markets] == ["SIM-MKT-00", "SIM-MKT-01"]
        assert requests.get(info["control_url"] + "/counters", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert ready.exists()


def test_cli_rejects_a_public_key_without_key_id(tmp_path: Path) -> None:
    pem = tmp_path / "pub.pem"
    pem.write_text("not used")
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, "--public-key", str(pem)],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 2 and "--key-id" in result.stderr


def test_a_generated_key_without_key_dir_is_removed_when_the_sim_stops(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    with sim_process(ready, "--markets", "1") as proc:
        key = Path(json.loads(ready.read_text())["private_key_path"])
        assert key.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not key.exists()
    assert not key.parent.exists()
