"""The local exchange and a local DynamoDB in processes of their own, for benchmarks.

In the embedded stack (dora/cli/local.py) both run inside dora's own process, so their work
(matching, serving, keeping every log item) competes with dora's for one interpreter and counts as
dora's time and memory. A benchmark that measures dora starts them here instead: ``dora sim`` and
moto's server, each a subprocess on a loopback port, stopped when the block ends, a SIGTERM
included (Python's default for it ends the process without unwinding, leaving both running).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from dora.core.errors import ConfigError
from dora.runtime.clock import Clock
from dora.store.store import Store, make_dynamodb_resource

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class SimProcess:
    url: str
    control_url: str
    key_id: str
    private_key_path: str
    ready_file: Path

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST (with a body) or GET one ``/_sim`` control endpoint; its JSON answer."""
        url = f"{self.control_url}{path}"
        answer = (requests.post(url, json=body, timeout=60) if body is not None
                  else requests.get(url, timeout=60))
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@dataclass(frozen=True, slots=True)
class BenchStack:
    sim: SimProcess
    dynamodb_endpoint: str
    store: Store  # table suffix "sim", tables created


@contextmanager
def bench_stack(
    clock: Clock, *, markets: int, seed: int, latency_ms: int = 0, tier: str = "basic",
    flow: bool = False, workdir: Path | None = None,
) -> Iterator[BenchStack]:
    with ExitStack() as stack:
        stack.enter_context(sigterm_unwinds())
        folder = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="dora-bench-")))
        sim = stack.enter_context(_sim_process(clock, folder, markets=markets, seed=seed,
                                               latency_ms=latency_ms, tier=tier, flow=flow))
        endpoint = stack.enter_context(_dynamodb_process(clock, folder))
        store = Store(make_dynamodb_resource(endpoint, "us-east-1"), "sim", clock)
        store.create_tables()
        yield BenchStack(sim, endpoint, store)


@contextmanager
def _sim_process(
    clock: Clock, folder: Path, *, markets: int, seed: int, latency_ms: int, tier: str, flow: bool
) -> Iterator[SimProcess]:
    ready = folder / "sim-ready.json"
    args = [sys.executable, "-m", "dora.cli.main", "sim", "--ready-file", str(ready),
            "--key-dir", str(folder), "--markets", str(markets), "--seed", str(seed),
            "--latency-ms", str(latency_ms), "--tier", tier, "--flow" if flow else "--no-flow"]
    with _process(args, folder / "sim.log") as process:
        _wait(clock, ready.exists, process, "the local exchange")
        info = json.loads(ready.read_text())
        yield SimProcess(info["url"], info["control_url"], info["key_id"],
                         info["private_key_path"], ready)


@contextmanager
def _dynamodb_process(clock: Clock, folder: Path) -> Iterator[str]:
    port = _free_port()
    endpoint = f"http://{LOOPBACK}:{port}"
    args = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    with _process(args, folder / "dynamodb.log") as process:
        _wait(clock, lambda: _answers(endpoint), process, "the local DynamoDB")
        yield endpoint


@contextmanager
def _process(args: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        try:
            yield process
        finally:
            stop_process(process)


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Within the block a SIGTERM raises SystemExit (status 143) in the main thread, so every
    ``finally`` on the way out runs; the previous handler is back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT_S."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def _wait(
    clock: Clock, ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str
) -> None:
    """Until ``ready()`` (polled every 0.1 s, up to START_TIMEOUT_S); the process must live."""
    for _ in range(round(START_TIMEOUT_S / _POLL_S)):
        if ready():
            return
        if process.poll() is not None:
            raise ConfigError(f"{what} exited with {process.returncode} before it was ready")
        clock.sleep(_POLL_S)
    raise ConfigError(f"{what} was not ready after {START_TIMEOUT_S:.0f} s")


def _answers(endpoint: str) -> bool:
    try:
        requests.get(endpoint, timeout=1)
    except requests.RequestException:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port

