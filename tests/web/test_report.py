"""`dora report` on the tables of a real session: its totals are the trade log's sums."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from click.testing import CliRunner

from dora.cli.main import main
from dora.cli.report import day_range, load_report
from dora.core.errors import ConfigError
from dora.core.models import Fill, Side
from dora.core.timefmt import utc_date
from dora.runtime.clock import SystemClock
from dora.store.store import Store, make_dynamodb_resource
from dora.web.report_page import report_html, report_json


def _scan(store: Store, name: str) -> list[dict]:
    table = store._table(name)
    rows, kwargs = [], {}
    while True:
        page = table.scan(**kwargs)
        rows.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return rows
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_report_totals_equal_the_trade_log_of_a_session(bot_env_factory):
    env = bot_env_factory(markets=3)
    bot = env.make_bot()
    bot.startup()
    env.cycles(bot, 30)
    rows = _scan(env.store, "dora_trade_log")
    assert len(rows) >= 3, "the outside flow never filled dora: raise the cycle count"
    day = utc_date(env.clock.now_ms())
    report = load_report(env.store, utc_date(env.clock.now_ms() - 60_000), day, page_size=4)
    doc = report_json(report, env.clock.now_ms())
    totals = doc["totals"]
    assert totals["fills"] == len(rows)
    assert Decimal(totals["realized_pnl"]) == sum(Decimal(r["pnl_realized"]) for r in rows)
    assert Decimal(totals["fees"]) == sum(Decimal(r["fees"]) for r in rows)
    assert Decimal(totals["volume"]) == sum(Decimal(r["size"]) for r in rows)
    assert report.totals.realized == bot.state.risk.daily_pnl  # the risk check's figure
    assert sum(m.totals.realized for m in report.markets) == report.totals.realized
    assert sum(m.unrealized for m in report.markets) == report.unrealized
    assert report.marks > 0 and report.skipped == ()
    nets = {t: p.net for t, p in bot.state.positions.items() if p.net}
    assert {m.ticker: m.net for m in report.markets if m.net} == nets
    page = report_html(report, env.clock.now_ms(), "test")
    assert page.count('<svg class="chart"') == 3 and "<script" not in page


@pytest.fixture
def cli_tables(dynamo_endpoint):
    requests.post(f"{dynamo_endpoint}/moto-api/reset", timeout=5).raise_for_status()
    env = {"DORA_DYNAMODB_ENDPOINT": dynamo_endpoint, "DORA_TABLE_ENV": "sim"}
    store = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "sim", SystemClock())
    store.create_tables()
    return store, env


def test_the_command_writes_html_and_prints_json(cli_tables, tmp_path):
    store, env = cli_tables
    ts = 1_767_225_600_000
    store.record_fills([
        (Fill("f1", "o1", "KXA", Side.BID, 4000, 1000, 70_000, False, ts), -70_000),
        (Fill("f2", "o2", "KXA", Side.ASK, 4500, 1000, 70_000, True, ts + 1000), 430_000),
    ])
    store._table("dora_trade_log").put_item(Item={
        "date": "2026-01-01", "timestamp#order_id": "bad", "market_id": "KXB", "type": "bid"})
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--from", "2026-01-01", "--to", "2026-01-01",
                                       "--out", str(out), "--json"], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["totals"]["realized_pnl"], doc["totals"]["fees"]) == ("0.360000", "0.140000")
    assert doc["totals"]["taker_fills"] == 1 and len(doc["skipped_rows"]) == 1
    assert "$0.36" in out.read_text(encoding="utf-8")
    plain = CliRunner().invoke(main, ["report", "--from", "2026-01-01", "--to", "2026-01-01",
                                      "--out", str(tmp_path / "p.html")], env=env)
    assert "2 fills in 1 markets, realized $0.36" in plain.output


@pytest.mark.parametrize(("args", "hint"), [
    (["--from", "2026-02-01", "--to", "2026-01-01"], "after --to"),
    (["--from", "yesterday", "--to", "2026-01-01"], "YYYY-MM-DD"),
    (["--from", "2020-01-01", "--to", "2026-01-01"], "at most"),
])
def test_bad_dates_exit_non_zero_with_a_fix(cli_tables, args, hint):
    _, env = cli_tables
    result = CliRunner().invoke(main, ["report", "--json", *args], env=env)
    assert result.exit_code != 0 and hint in result.output


def test_day_range():
    assert day_range("2025-12-31", "2026-01-02") == ["2025-12-31", "2026-01-01", "2026-01-02"]
    with pytest.raises(ConfigError):
        day_range("2026-01-02", "2026-01-01")
