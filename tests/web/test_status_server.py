"""The status page served next to a bot trading on the local exchange: what it shows, health,
access, and that the loop never waits on it."""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal

import pytest
import requests
from click.testing import CliRunner

from dora.bot import snapshot as snapshot_module
from dora.bot.snapshot import CashView, DecimatingBuffer, InfoSection, LeaseView
from dora.cli.main import main
from dora.cli.status_page import resolve_http
from dora.core.errors import ConfigError
from dora.core.units import parse_count, parse_price
from dora.web import server as server_module
from dora.web.page import status_page
from dora.web.server import HttpSettings, parse_bind
from dora.web.status_json import health, status_document
from tests.web.conftest import Watched

TOKEN = "s3cret-token-0123456789"


def _get(w: Watched, path: str, **kwargs: object) -> requests.Response:
    return requests.get(w.url + path.lstrip("/"), timeout=5, **kwargs)  # type: ignore[arg-type]


def _halt_as_operator(w: Watched, halted: bool, reason: str) -> None:
    """What `dora halt` / `dora resume` write (dora/cli/ops_safety.py _set_halt), from another
    process's view of the tables."""
    store = w.env.operator_store()
    risk = store.load_state().risk
    store.save_risk_state(replace(risk, trading_halted=halted, halt_reason=reason))


def test_the_page_shows_the_quotes_the_exchange_holds(watched_bot):
    w = watched_bot(markets=3, flow=False)
    w.env.cycles(w.bot, 3)
    doc = _get(w, "/status.json").json()
    shown = sorted((m["ticker"], q["side"], parse_price(q["price"]), parse_count(q["remaining"]))
                   for m in doc["markets"] for q in m["quotes"])
    on_exchange = sorted((o.ticker, o.side.value, o.price, o.remaining) for o in w.env.resting())
    assert shown == on_exchange and shown
    assert {m["ticker"] for m in doc["markets"]} == set(w.env.tickers)
    page = _get(w, "/")
    assert page.status_code == 200
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]
    for ticker in w.env.tickers:
        assert ticker in page.text
    assert page.text.count('<svg class="chart"') == 2


def test_session_pnl_is_the_trade_logs_sum_and_the_risk_figure(watched_bot):
    w = watched_bot(markets=3)
    w.env.cycles(w.bot, 25)
    rows = w.env.store._table("dora_trade_log").scan()["Items"]
    assert rows, "the outside flow never filled dora: raise the cycle count"
    snap = w.holder.latest()
    assert snap is not None
    logged = sum(Decimal(r["pnl_realized"]) for r in rows)
    assert Decimal(snap.session_realized) / 1_000_000 == logged
    assert snap.session_realized == w.bot.state.risk.daily_pnl
    assert snap.fills_total == len(rows)
    assert [p.ts_ms for p in snap.series] == sorted(p.ts_ms for p in snap.series)


def test_healthz_flips_to_503_when_the_operator_halts_and_back_on_resume(watched_bot):
    w = watched_bot(markets=2, flow=False)
    assert _get(w, "/healthz").status_code == 503  # no cycle yet: starting
    w.env.cycles(w.bot, 2)
    assert _get(w, "/healthz").status_code == 200
    _halt_as_operator(w, True, "exchange maintenance")
    w.env.cycles(w.bot, 2)  # the bot adopts the flag at its next config refresh
    answer = _get(w, "/healthz")
    assert (answer.status_code, answer.text) == (503, "halted: exchange maintenance\n")
    assert _get(w, "/livez").status_code == 200  # halted, but cycles run
    assert w.env.resting() == []
    assert "HALTED" in _get(w, "/").text.upper()
    _halt_as_operator(w, False, "")
    w.env.cycles(w.bot, 2)
    assert _get(w, "/healthz").status_code == 200


def test_healthz_and_livez_turn_503_when_cycles_stop(watched_bot):
    w = watched_bot(markets=1, flow=False)
    w.env.cycles(w.bot, 1)
    assert _get(w, "/livez").status_code == 200
    w.env.clock.advance_ms(60_000)  # a minute with no cycle at a 0 ms interval
    for path in ("/healthz", "/livez"):
        answer = _get(w, path)
        assert answer.status_code == 503 and answer.text.startswith("stalled:")


def test_the_loop_never_waits_on_a_stuck_page(watched_bot, monkeypatch):
    w = watched_bot(markets=1, flow=False)
    w.env.cycles(w.bot, 1)
    entered, release = threading.Event(), threading.Event()
    real_page = server_module.status_page

    def stuck_page(*args: object) -> str:
        entered.set()
        release.wait(30)
        return real_page(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(server_module, "status_page", stuck_page)
    reader = threading.Thread(target=_get, args=(w, "/"), daemon=True)
    reader.start()
    assert entered.wait(5)
    done = threading.Event()

    def cycles() -> None:
        w.env.cycles(w.bot, 3)
        done.set()

    threading.Thread(target=cycles, daemon=True).start()
    try:
        assert done.wait(20), "a cycle waited on a page being rendered"
        latest = w.holder.latest()
        assert latest is not None and latest.cycle == 4
        assert _get(w, "/healthz").status_code == 200  # other readers are served meanwhile
    finally:
        release.set()
        reader.join(10)


def test_a_display_bug_never_fails_the_cycle(watched_bot, monkeypatch, caplog):
    w = watched_bot(markets=1, flow=False)

    def broken(*args: object) -> object:
        raise ZeroDivisionError("bug in the page's data")

    monkeypatch.setattr(snapshot_module, "_markets", broken)
    summaries = w.env.cycles(w.bot, 3)
    assert [s.cycle for s in summaries] == [1, 2, 3]
    assert w.env.resting(), "the bot stopped quoting"
    assert w.holder.latest() is None
    failures = [r for r in caplog.records if "status snapshot failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not every cycle


def test_a_token_guards_everything_but_the_health_checks(watched_bot):
    w = watched_bot(markets=1, flow=False, token=TOKEN)
    w.env.cycles(w.bot, 1)
    assert _get(w, "/status.json").status_code == 401
    assert _get(w, "/", headers={"Authorization": "Bearer wrong-token-0123456"}).status_code == 401
    assert _get(w, "/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert _get(w, f"/status.json?token={TOKEN}").status_code == 200
    assert _get(w, "/healthz").status_code == 200


def test_a_request_for_another_host_is_refused_on_loopback(watched_bot):
    """A page on another site cannot read dora's page by pointing its own name at 127.0.0.1."""
    w = watched_bot(markets=1, flow=False)
    assert _get(w, "/status.json", headers={"Host": "attacker.example:8750"}).status_code == 403
    assert _get(w, "/status.json", headers={"Host": "localhost:8750"}).status_code == 200
    assert _get(w, "/nope").status_code == 404


def test_a_non_loopback_address_needs_a_token():
    with pytest.raises(ConfigError, match="DORA_HTTP_TOKEN"):
        HttpSettings("0.0.0.0", 8750, None)
    assert HttpSettings("0.0.0.0", 8750, TOKEN).token == TOKEN
    with pytest.raises(ConfigError, match="16 characters"):
        HttpSettings("127.0.0.1", 8750, "short")


@pytest.mark.parametrize(("text", "host", "port"), [
    ("127.0.0.1:8750", "127.0.0.1", 8750), ("[::1]:9000", "::1", 9000),
    ("8751", "127.0.0.1", 8751), ("localhost:0", "localhost", 0),
])
def test_parse_bind(text, host, port):
    parsed = parse_bind(text)
    assert (parsed.host, parsed.port) == (host, port)


@pytest.mark.parametrize("text", ["", "127.0.0.1:", "host:port", "127.0.0.1:70000"])
def test_parse_bind_refuses_nonsense(text):
    with pytest.raises(ConfigError):
        parse_bind(text)


def test_decimating_buffer_stays_bounded_and_spans_the_session():
    buffer: DecimatingBuffer[int] = DecimatingBuffer(10)
    for i in range(1000):
        buffer.add(i)
    points = buffer.view()
    assert len(points) <= 11
    assert points[0] == 0 and points[-1] == 999
    assert list(points) == sorted(points)


@pytest.mark.parametrize(("spec", "embedded", "expected"), [
    (None, True, ("127.0.0.1", 8750)), (None, False, None), ("off", True, None),
    ("127.0.0.1:9001", False, ("127.0.0.1", 9001)),
])
def test_where_dora_run_serves_the_page(spec, embedded, expected):
    settings = resolve_http(spec, embedded=embedded, environ={})
    assert (None if settings is None else (settings.host, settings.port)) == expected


def test_dora_run_refuses_a_public_address_without_a_token():
    result = CliRunner().invoke(main, ["run", "--loops", "1", "--http", "0.0.0.0:8750"],
                                env={"DORA_HTTP_TOKEN": ""})
    assert result.exit_code != 0
    assert "DORA_HTTP_TOKEN" in result.output


def test_optional_sections_appear_only_when_the_bot_knows_them(watched_bot):
    """The lease, cash, breaker states and reports other parts of dora add later."""
    w = watched_bot(markets=1, flow=False)
    w.env.cycles(w.bot, 2)
    known = w.holder.latest()
    assert known is not None
    ledger = w.bot.state.cash_view()  # the promised-cash ledger fills the cash section
    assert ledger is not None
    assert known.cash == CashView(ledger.balance, ledger.promised, ledger.free)
    assert known.lease is not None and known.lease.held and not known.lease.standby
    plain = replace(known, cash=None, lease=None)
    now = w.env.clock.now_ms()
    page = status_page(plain, now)
    assert 'id="lease"' not in page and "breaker" not in page and 'id="cash"' not in page
    assert not {"lease", "cash", "sections"} & set(status_document(plain, now))
    market = replace(plain.markets[0], breaker="open")
    full = replace(
        plain, markets=(market,), lease=LeaseView("task-a", True, False, now + 30_000),
        cash=CashView(5_000_000, 1_250_000, 3_750_000),
        sections=(InfoSection("Calibration", (("fill rate", "0.12"),)),),
    )
    page = status_page(full, now)
    for text in ('id="lease"', "leader", "task-a", "$1.25", "$3.75", "Calibration", "fill rate",
                 ">breaker<", ">open<"):
        assert text in page
    doc = status_document(full, now)
    assert doc["lease"]["held"] and doc["cash"]["free"] == "3.750000"
    assert doc["sections"] == {"Calibration": {"fill rate": "0.12"}}
    assert doc["markets"][0]["breaker"] == "open"
    lost = replace(full, lease=LeaseView("task-b", False, False, now))
    standby = replace(full, lease=LeaseView("task-b", False, True, now), halted=True)
    assert (health(lost, now).ok, health(lost, now).status) == (False, "lease_lost")
    assert (health(standby, now).ok, health(standby, now).status) == (True, "standby")
