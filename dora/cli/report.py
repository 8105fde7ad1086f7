"""`dora report`: the P&L report from the trade and decision logs, as HTML and/or JSON.

The logs are read by UTC day (their hash key), page by page; only the decision records of markets
that traded in the period are kept, and only their best bid and ask are read.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import click

from dora.cli.ops import _guarded, _store
from dora.cli.target import Target, target_options
from dora.core.errors import ConfigError
from dora.core.models import TsMs
from dora.core.pnl_report import BookMark, LoggedFill, PnlReport, build_report
from dora.core.timefmt import utc_date
from dora.core.units import format_dollars
from dora.runtime.clock import SystemClock
from dora.store.log_items import parse_book_mark, parse_trade_row
from dora.store.store import Store
from dora.web.report_page import report_html, report_json

MAX_DAYS = 400
DEFAULT_DAYS = 7
DEFAULT_OUT = Path("dora-report.html")


def day_range(first: str, last: str) -> list[str]:
    """Every UTC day from ``first`` to ``last`` inclusive (YYYY-MM-DD)."""
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        raise ConfigError(f"dates are YYYY-MM-DD: {exc}") from exc
    if end < start:
        raise ConfigError(f"--from {first} is after --to {last}")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise ConfigError(f"the period spans {days} days; at most {MAX_DAYS} per report")
    return [(start + timedelta(days=i)).isoformat() for i in range(days)]


def load_report(
    store: Store, first_day: str, last_day: str, *, page_size: int | None = None
) -> PnlReport:
    days = day_range(first_day, last_day)
    fills: list[LoggedFill] = []
    skipped: list[str] = []
    for item in store.trade_log_items(days, page_size=page_size):
        try:
            fills.append(parse_trade_row(item))
        except ValueError as exc:
            skipped.append(str(exc))
    traded = {f.fill.ticker for f in fills}
    marks: list[BookMark] = []
    for item in store.decision_book_items(days, page_size=page_size):
        if item.get("market_id") not in traded:
            continue
        try:
            mark = parse_book_mark(item)
        except ValueError as exc:
            skipped.append(str(exc))
            continue
        if mark is not None:
            marks.append(mark)
    return build_report(fills, marks, first_day, last_day, skipped=skipped)


def write_report(
    report: PnlReport, generated_ms: TsMs, source: str, *, html_path: Path | None,
    json_path: Path | None,
) -> None:
    if html_path is not None:
        html_path.write_text(report_html(report, generated_ms, source), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(json.dumps(report_json(report, generated_ms), indent=1) + "\n",
                             encoding="utf-8")


def write_session_report(
    store: Store, run_id: str, started_ms: TsMs, now_ms: TsMs, directory: Path
) -> tuple[Path, Path]:
    """The P&L report of the days a run spanned, as ``report-<run>.html`` and ``.json``."""
    directory.mkdir(exist_ok=True)
    result = load_report(store, utc_date(started_ms), utc_date(now_ms))
    paths = directory / f"report-{run_id}.html", directory / f"report-{run_id}.json"
    write_report(result, now_ms, f"run {run_id}", html_path=paths[0], json_path=paths[1])
    return paths


def summary_line(report: PnlReport) -> str:
    t = report.totals
    return (f"{report.first_day}..{report.last_day}: {t.fills} fills in {len(report.markets)} "
            f"markets, realized {format_dollars(t.realized)}, unrealized "
            f"{format_dollars(report.unrealized)}, fees {format_dollars(t.fees)}")


@click.command()
@target_options(writes=False)
@click.option("--from", "first_day", default=None, metavar="YYYY-MM-DD",
              help=f"First UTC day [default: {DEFAULT_DAYS - 1} days before --to].")
@click.option("--to", "last_day", default=None, metavar="YYYY-MM-DD",
              help="Last UTC day [default: today].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"HTML file to write [default: {DEFAULT_OUT} unless --json is given].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def report(
    target: Target, first_day: str | None, last_day: str | None, out: Path | None, as_json: bool,
) -> None:
    """P&L report from the trade and decision logs: realized and unrealized P&L over time, per
    market and per day, fees, volume, maker/taker share, inventory, the markets that lost most."""
    def work() -> None:
        now_ms = SystemClock().now_ms()
        last = last_day or utc_date(now_ms)
        first = first_day or (date.fromisoformat(day_range(last, last)[0])
                              - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        store = _store(target)
        result = load_report(store, first, last)
        html_path = out if out is not None else (None if as_json else DEFAULT_OUT)
        write_report(result, now_ms, f"tables {store.names['dora_trade_log']}",
                     html_path=html_path, json_path=None)
        if as_json:
            click.echo(json.dumps(report_json(result, now_ms), indent=1))
        else:
            click.echo(summary_line(result))
        if html_path is not None:
            click.echo(f"report written to {html_path}", err=as_json)
    _guarded(work)
