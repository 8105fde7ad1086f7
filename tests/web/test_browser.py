"""`make run` as a person would use it: a real `dora run` process on its embedded local stack,
its status page opened in a real headless Chromium, an operator halt, and `dora report` on the
session's own tables.

Needs Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it) driven by Playwright's
Python package, which uses that browser and never downloads one. Without a browser it skips.
Set DORA_SCREENSHOT_DIR to keep the page's screenshot (docs/status-page.png was made that way).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from dora.cli.main import main
from dora.core.timefmt import utc_date
from dora.store.store import make_dynamodb_resource

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH: apt-get install chromium (.ci/run does)")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class DoraProcess:
    """A `dora run` child process; its stderr is read on a thread so it never blocks."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DORA_SIM_READY_FILE", "DORA_DYNAMODB_ENDPOINT", "DORA_TABLE_ENV")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dora.cli.main", "run", "--status-line", "--http",
             "127.0.0.1:0", "--interval-ms", "300"],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.cwd = cwd
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def printed(self, prefix: str, timeout_s: float = 60) -> str:
        found = wait_for(lambda: next((ln[len(prefix):].strip() for ln in list(self.lines)
                                       if ln.startswith(prefix)), None), timeout_s)
        assert found, f"dora never printed {prefix!r}: {self.lines[-20:]}"
        return found

    def dynamodb_endpoint(self) -> str:
        log_file = self.cwd / self.printed("JSON logs:")
        for line in log_file.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if "dynamodb_endpoint" in event:
                return str(event["dynamodb_endpoint"])
        raise AssertionError("the embedded DynamoDB endpoint was never logged")


def wait_for(probe: Callable[[], Any], timeout_s: float, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every_s)
    return None


@pytest.fixture
def dora_run(tmp_path: Path) -> Iterator[DoraProcess]:
    process = DoraProcess(tmp_path)
    yield process
    if process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield launched
        launched.close()


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, errors


def rendered_lines(page: Any) -> list[int]:
    """Coordinates in each drawn chart line."""
    return [len(p.split()) for p in
            page.locator("svg.chart polyline.series").evaluate_all(
                "lines => lines.map(l => l.getAttribute('points'))")]


def json_of(url: str) -> dict[str, Any]:
    answer = requests.get(url + "status.json", timeout=5)
    answer.raise_for_status()
    return dict(answer.json())


def trade_log_sums(endpoint: str) -> dict[str, Decimal]:
    table = make_dynamodb_resource(endpoint, "us-east-1").Table("dora_trade_log_sim")
    rows: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        rows.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {"fills": Decimal(len(rows)),
            "realized_pnl": sum((Decimal(r["pnl_realized"]) for r in rows), Decimal(0)),
            "fees": sum((Decimal(r["fees"]) for r in rows), Decimal(0)),
            "volume": sum((Decimal(r["size"]) for r in rows), Decimal(0))}


def test_make_run_page_halt_and_report(dora_run: DoraProcess, browser: Any, tmp_path: Path):
    first_day = utc_date(time.time_ns() // 1_000_000)
    url = dora_run.printed("status page:")
    assert url.startswith("http://127.0.0.1:")
    trading = wait_for(lambda: (doc := json_of(url)).get("fills_total", 0) >= 3 and doc, 90)
    assert trading, "dora never filled on the embedded exchange"
    assert any(m["quotes"] for m in trading["markets"])

    page, errors = open_page(browser, url)
    rows = page.locator("#markets-table tbody tr").all_inner_texts()
    assert {m["ticker"] for m in trading["markets"]} <= {r.split("\t")[0] for r in rows}
    lines = rendered_lines(page)
    assert len(lines) >= 4 and all(n >= 2 for n in lines), lines  # P&L and inventory drawn
    first = page.locator("header .meta").first.inner_text()
    assert wait_for(lambda: page.locator("header .meta").first.inner_text() != first, 10), \
        "the page did not refresh itself"
    shot = tmp_path / "status-page.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("DORA_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["DORA_SCREENSHOT_DIR"]) / "status-page.png")
    assert errors == []

    endpoint = dora_run.dynamodb_endpoint()
    operator = {"DORA_DYNAMODB_ENDPOINT": endpoint, "DORA_TABLE_ENV": "sim"}
    halted = CliRunner().invoke(main, ["halt", "--reason", "browser test"], env=operator)
    assert halted.exit_code == 0, halted.output
    assert wait_for(lambda: requests.get(url + "healthz", timeout=5).status_code == 503, 20)
    assert "browser test" in requests.get(url + "healthz", timeout=5).text
    page.reload()
    assert "halted: browser test" in page.locator("header").inner_text()

    # halted: dora's orders are cancelled, so the trade log stops growing
    assert wait_for(lambda: all(not m["quotes"] for m in json_of(url)["markets"]), 20)
    time.sleep(1.0)
    last_day = utc_date(time.time_ns() // 1_000_000)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", "--env", "sim", "--from", first_day, "--to",
                                       last_day, "--json", "--out", str(out)], env=operator)
    assert result.exit_code == 0, result.output
    totals = json.loads(result.stdout)["totals"]
    sums = trade_log_sums(endpoint)
    assert {k: Decimal(str(totals[k])) for k in sums} == sums
    assert sums["fills"] >= 3

    report_page, report_errors = open_page(browser, out.as_uri())
    assert len(rendered_lines(report_page)) >= 4
    assert report_errors == []

    dora_run.proc.send_signal(signal.SIGTERM)
    assert dora_run.proc.wait(30) == 0
    saved = dora_run.printed("P&L report:").split(" ")[0]
    assert (tmp_path / saved).exists()
