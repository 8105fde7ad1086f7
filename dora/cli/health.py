"""`dora health`: the container's health check (Dockerfile HEALTHCHECK, the task definition's
healthCheck). Healthy while the loop keeps finishing cycles: the heartbeat file it rewrites after
every cycle is younger than ``--max-age``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dora.runtime.clock import SystemClock
from dora.runtime.health import (
    DEFAULT_MAX_AGE_S,
    HEARTBEAT_FILE_ENV,
    HeartbeatUnreadable,
    heartbeat_path,
    read_heartbeat,
)

EXIT_UNHEALTHY = 1


@click.command()
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"The heartbeat file (default: ${HEARTBEAT_FILE_ENV}, else "
                   ".dora-local/heartbeat.json).")
@click.option("--max-age", "max_age_s", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_MAX_AGE_S, show_default=True,
              help="Seconds since the loop last showed progress (a finished cycle, or order "
                   "writes inside a long one) before the bot counts as stuck.")
def health(path: Path | None, max_age_s: float) -> None:
    """Exit 0 when the loop showed progress within --max-age seconds (after a first finished
    cycle), else 1 (with the reason)."""
    path = path or heartbeat_path(os.environ)
    try:
        beat = read_heartbeat(path)
    except HeartbeatUnreadable as exc:
        click.echo(f"unhealthy: {exc}", err=True)
        raise SystemExit(EXIT_UNHEALTHY) from None
    age_s = (SystemClock().now_ms() - beat.ts_ms) / 1000
    halted = ", trading halted" if beat.halted else ""
    summary = f"last progress {age_s:.1f} s ago (cycle {beat.cycle}, run {beat.run_id}{halted})"
    if age_s > max_age_s:
        click.echo(f"unhealthy: {summary}; more than {max_age_s:g} s", err=True)
        raise SystemExit(EXIT_UNHEALTHY)
    click.echo(f"healthy: {summary}")

if __name__ == "__main__":  # the container health check: `python -m dora.cli.health`, light imports
    health()
