"""Benchmark (not a test): how ``dora run``'s resident memory grows over a long run.

``python -m dora.cli.bench_memory --cycles 3000`` starts the local exchange and a local DynamoDB
in processes of their own (:mod:`dora.cli.bench_stack`) with the embedded defaults (6 markets,
seed 7, basic tier, the embedded outside flow, the example configs), then ``dora run`` against
them as a third process, so the log tables live in the DynamoDB process and dora's own memory is
all that is measured. After every CYCLE_SUMMARY it reads the process's resident set (Linux:
``/proc/<pid>/status``) and prints it at the start, after the warm-up, every ``--every`` cycles
and at the end, with the growth since the warm-up and since the start. dora runs with the
production image's allocator setting (``MALLOC_ARENA_MAX``, deploy/Dockerfile) unless the
environment sets its own.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import click

from dora.cli.bench_stack import bench_stack, stop_process
from dora.cli.local import EXAMPLE_GLOBAL_CONFIG, EXAMPLE_MARKET_CONFIG, LOCAL_TAKER_RATE_PER_S
from dora.runtime.clock import SystemClock

EMBEDDED_MARKETS = 6
# As deploy/Dockerfile sets it: glibc's malloc arenas for dora's threads (the phase pool, the log
# writer) kept to two, which measured flatter over long runs (docs/aws-notes.md#memory).
IMAGE_MALLOC_ARENA_MAX = "2"
EMBEDDED_SEED = 7
KIB = 1024


def rss_kib(pid: int) -> int:
    """The process's resident set size in KiB (0 when /proc does not say)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def growth(before: int, after: int) -> str:
    return f"{(after - before) * 100 / before:+.1f} %" if before else "n/a"


@click.command()
@click.option("--cycles", type=click.IntRange(min=2), default=3000, show_default=True)
@click.option("--warmup", type=click.IntRange(min=1), default=100, show_default=True,
              help="Growth is also reported from this cycle on.")
@click.option("--every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Print the resident set every this many cycles.")
@click.option("--interval-ms", type=click.IntRange(min=0), default=None,
              help="Loop interval (default: the example config's, 1000 ms).")
@click.option("--command", "command", default=None,
              help="How to start dora (default: this Python, -m dora.cli.main).")
def main(cycles: int, warmup: int, every: int, interval_ms: int | None,
         command: str | None) -> None:
    clock = SystemClock()
    with bench_stack(clock, markets=EMBEDDED_MARKETS, seed=EMBEDDED_SEED, tier="basic",
                     flow=True) as stack:
        stack.sim.control("/flow", {"enabled": True,
                                    "taker_rate_per_s": str(LOCAL_TAKER_RATE_PER_S)})
        for ticker in [f"SIM-MKT-{i:02d}" for i in range(EMBEDDED_MARKETS)]:
            stack.store.put_market_config_item({"market_id": ticker, **EXAMPLE_MARKET_CONFIG})
        stack.store.set_global_fields(EXAMPLE_GLOBAL_CONFIG)
        base = shlex.split(command) if command else [sys.executable, "-m", "dora.cli.main"]
        args = [*base, "run", "--env", "sim", "--url", stack.sim.url, "--tier", "basic",
                "--loops", str(cycles)]
        if interval_ms is not None:
            args += ["--interval-ms", str(interval_ms)]
        env = {"MALLOC_ARENA_MAX": IMAGE_MALLOC_ARENA_MAX, **os.environ,
               "DORA_SIM_READY_FILE": str(stack.sim.ready_file),
               "DORA_DYNAMODB_ENDPOINT": stack.dynamodb_endpoint, "DORA_TABLE_ENV": "sim"}
        samples = _run_and_sample(args, env, cycles, every)
    first, warm, last = samples.get(1, 0), samples.get(warmup, 0), samples[max(samples)]
    click.echo(f"dora run, {max(samples)} cycles: RSS {first / KIB:.1f} MiB at cycle 1, "
               f"{warm / KIB:.1f} MiB at cycle {warmup}, {last / KIB:.1f} MiB at the end; "
               f"growth {growth(warm, last)} since cycle {warmup}, {growth(first, last)} since "
               f"cycle 1; peak {max(samples.values()) / KIB:.1f} MiB")


def _run_and_sample(args: list[str], env: dict[str, str], cycles: int,
                    every: int) -> dict[int, int]:
    """Run dora; the resident set (KiB) after each cycle, by cycle number."""
    samples: dict[int, int] = {}
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          stdin=subprocess.DEVNULL, text=True) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if '"CYCLE_SUMMARY"' not in line or '"cycle summary"' not in line:
                    continue
                cycle = int(json.loads(line)["cycle"])
                samples[cycle] = rss_kib(process.pid)
                if cycle == 1 or cycle % every == 0 or cycle == cycles:
                    click.echo(f"cycle {cycle:>5}: RSS {samples[cycle] / KIB:.1f} MiB")
            process.wait()
        finally:  # stopped early (SIGTERM, ^C): dora stops too
            stop_process(process)
    if not samples:
        raise click.ClickException(f"dora run exited with {process.returncode} before a cycle")
    return samples


if __name__ == "__main__":
    main()
