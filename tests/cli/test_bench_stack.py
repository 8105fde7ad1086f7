"""A benchmark stopped with SIGTERM stops the processes it started (the local exchange, the
local DynamoDB and, for the memory benchmark, dora itself): real processes, judged by /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

BENCHMARKS = {
    "bench": [sys.executable, "-m", "dora.cli.main", "bench", "--markets", "2", "--cycles",
              "1000", "--mode", "batch"],
    "bench_memory": [sys.executable, "-m", "dora.cli.bench_memory", "--cycles", "100000",
                     "--interval-ms", "50"],
}


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[1])  # a zombie has ended


def _descendants(root: int) -> set[int]:
    parents = {int(p): _parent_of(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    return _parent_of(pid) is not None


def _wait_for(what: str, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_sigterm_stops_what_the_benchmark_started(name: str) -> None:
    expected = 3 if name == "bench_memory" else 2  # exchange, DynamoDB (and dora run)
    bench = subprocess.Popen(BENCHMARKS[name], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    started: set[int] = set()
    try:
        _wait_for(f"{expected} processes under the benchmark",
                  lambda: len(_descendants(bench.pid)) >= expected)
        time.sleep(2.0)  # past the start: the benchmark is running cycles
        started = _descendants(bench.pid)
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
        _wait_for("the started processes to end",
                  lambda: not any(_alive(pid) for pid in started), timeout_s=15.0)
    finally:
        for pid in started | _descendants(bench.pid):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if bench.poll() is None:
            bench.kill()
            bench.wait()


def test_the_benchmark_reports_each_figure_of_a_short_run() -> None:
    command = [sys.executable, "-m", "dora.cli.main", "bench", "--markets", "2", "--cycles", "3",
               "--mode", "batch", "--latency-ms", "0", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])["batch"]
    assert result["failed_cycles"] == 0 and result["log_rows_dropped"] == 0
    assert result["orders_placed"] == 3 * 2 * 2  # every cycle requotes both sides of both
    assert result["cpu_ms_per_cycle"] > 0 and result["cycle_ms_p50"] > 0
