"""dora's command line: the composition root. `dora --help` lists the commands."""

from __future__ import annotations

import os
import socket

import click

from dora.bot.loop import LoopSettings
from dora.bot.state import Mode
from dora.cli.app import run_bot
from dora.cli.bench import bench
from dora.cli.config import ENVIRONMENTS, resolve_settings
from dora.cli.health import health
from dora.cli.ops import error_message, flags, init_db, markets
from dora.cli.ops_safety import groups, halt, resume
from dora.cli.ops_status import cancel_all, status
from dora.cli.report import report
from dora.cli.sim import sim_command
from dora.core.errors import ConfigError, DoraError
from dora.core.shards import MAX_SHARDS
from dora.core.tiers import TIERS
from dora.runtime.health import heartbeat_path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dora")
def main() -> None:
    """dora: a market-making bot for Kalshi, with a local exchange for tests and paper trading."""


@main.command()
@click.option("--batch/--per-market", "batch", default=True, show_default=True,
              help="Execution mode when the use_batch_execution flag is absent in DynamoDB.")
@click.option("--env", "env", type=click.Choice(ENVIRONMENTS), default="sim", show_default=True,
              help="Which exchange. sim runs a local one unless --url or endpoints are given.")
@click.option("--url", default=None, help="Explicit exchange base URL (…/trade-api/v2).")
@click.option("--loops", type=click.IntRange(min=1), default=None, help="Stop after N cycles.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after S seconds.")
@click.option("--tier", type=click.Choice(list(TIERS)), default="basic", show_default=True,
              help="Your Kalshi rate-limit tier.")
@click.option("--interval-ms", type=click.IntRange(min=0), default=None,
              help="Override the loop interval from the global config.")
@click.option("--status-line", is_flag=True,
              help="Show a live one-line status; JSON logs go to .dora-local/ instead of stdout.")
@click.option("--http", "http", default=None, metavar="HOST:PORT|off",
              help="Serve the status page there (a non-loopback address needs DORA_HTTP_TOKEN). "
                   "Default: 127.0.0.1:8750 for the embedded local run, off otherwise.")
@click.option("--shards", type=click.IntRange(1, MAX_SHARDS), default=None,
              help="Split the markets over N shards, one lease (one quoting process) each; "
                   "this process takes any free one. Default: DORA_SHARDS, else the global "
                   "config's shards, else 1.")
def run(
    batch: bool, env: str, url: str | None, loops: int | None, duration: float | None,
    tier: str, interval_ms: int | None, status_line: bool, http: str | None,
    shards: int | None,
) -> None:
    """Run the bot (dora's main job).

    Only the holder of a shard's lease quotes; a process that finds every lease held stands by
    (reads only) and takes over one that is released or runs out.

    Exit status: 0 stopped on request (SIGTERM, Ctrl-C, --loops, --duration); 1 bad settings;
    2 bad arguments; 3 a fatal error (bad credentials, a second writer): it cancelled its orders
    and stopped."""
    if loops is not None and duration is not None:
        raise click.UsageError("give either --loops or --duration, not both")
    if env in ("demo", "prod") and url is not None:
        raise click.UsageError("--url and --env demo|prod are exclusive: pick one exchange")
    try:
        settings = resolve_settings(env=env, url=url, tier=tier, environ=os.environ,
                                    shards=shards)
        loop_settings = LoopSettings(
            default_mode=Mode.BATCH if batch else Mode.PER_MARKET, max_cycles=loops,
            duration_s=duration, interval_ms=interval_ms, env=settings.env,
            heartbeat_file=str(heartbeat_path(os.environ)), shards=settings.shards,
            task_id=os.environ.get("HOSTNAME") or socket.gethostname(),
        )
        code = run_bot(settings, loop_settings, os.environ, status_line=status_line, http=http)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except DoraError as exc:
        raise click.ClickException(error_message(exc)) from exc
    raise SystemExit(code)


main.add_command(sim_command, name="sim")
for command in (init_db, markets, flags, halt, resume, groups, status, cancel_all, health, report,
                bench):
    main.add_command(command)


if __name__ == "__main__":
    main()
