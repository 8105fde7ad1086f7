"""`dora calibrate`: the startup calibration as a read-only pre-flight check.

The same steps the bot runs before its first quote (dora/bot/lifecycle), against the same exchange
and tables, but nothing is written anywhere: no order, no cancel, no state item. The report is
printed; the exit status is 1 when a step failed, else 0 (warnings included).
"""

from __future__ import annotations

import logging

import click

from dora.bot.execute import Executor
from dora.bot.lifecycle import Lifecycle, LifecycleParts
from dora.bot.persistence import Persister
from dora.bot.quoting import Quoter, QuoteSettings
from dora.bot.reconcile import Reconciler
from dora.bot.state import BotState
from dora.cli.app import build_client, resolve_connection
from dora.cli.config import resolve_settings
from dora.cli.ops import _guarded, _store
from dora.cli.ops_status import BOT_ORDER_PREFIX
from dora.cli.target import Target, target_options
from dora.core.calibration import CalibrationReport, StepStatus
from dora.core.overlay import Overlay
from dora.core.tiers import TIERS
from dora.core.timefmt import iso_ms
from dora.runtime.clock import SystemClock

FILL_OVERLAP_MS = 120_000


@click.command()
@target_options(writes=False)
@click.option("--url", default=None, help="Explicit exchange base URL (…/trade-api/v2).")
@click.option("--tier", type=click.Choice(list(TIERS)), default="basic", show_default=True,
              help="The tier `dora run` would be given: compared with the account's limits.")
def calibrate(target: Target, url: str | None, tier: str) -> None:
    """Pre-flight check: run the startup calibration read-only and print the report (exchange
    status and real limits, state sync, market viability, portfolio health, cash, session).
    Places, cancels and saves nothing. Exits 1 when a step fails."""
    report: list[CalibrationReport] = []

    def work() -> None:
        report.append(run_preflight(target, url, tier))
    _guarded(work)
    click.echo(format_report(report[0]))
    if report[0].status is StepStatus.FAIL:
        raise SystemExit(1)


def run_preflight(target: Target, url: str | None, tier: str) -> CalibrationReport:
    clock = SystemClock()
    log = logging.getLogger("dora.calibrate")
    log.propagate = False  # the report is the output; events would only repeat it
    log.addHandler(logging.NullHandler())
    settings = resolve_settings(env=target.env, url=url or target.exchange_url, tier=tier,
                                environ=target.environ)
    client = build_client(resolve_connection(settings, target.environ), tier, clock)
    state, overlay = BotState(), Overlay()
    persister = Persister(_store(target), log, "calibrate")
    persister.load_into(state)
    persister.refresh_config(state)
    reconciler = Reconciler(client, overlay, log, fill_overlap_ms=FILL_OVERLAP_MS)
    executor = Executor(client, overlay, clock, log, may_place=lambda: False)  # never places
    quoter = Quoter(reconciler, executor, log, QuoteSettings(BOT_ORDER_PREFIX, None))
    parts = LifecycleParts(client, reconciler, quoter, executor, persister, overlay, state,
                           clock, log, BOT_ORDER_PREFIX, "calibrate")
    return Lifecycle(parts, acting=False).startup(started_ms=0)


def format_report(report: CalibrationReport) -> str:
    lines = [f"dora calibration ({report.kind}) at {iso_ms(report.taken_ms)}: "
             f"{report.status.value.upper()}"]
    for step in report.steps:
        lines.append(f"[{step.status.value:<4}] {step.name} ({step.duration_ms} ms): "
                     f"{step.summary}")
        lines += [f"         {name}: {value}" for name, value in step.details]
    return "\n".join(lines)
