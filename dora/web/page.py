"""The live status page: one HTML document rendered from the latest snapshot.

It refreshes itself with a few lines of inline script (fetch the page, swap ``<main>``), so the
scroll position survives; it loads nothing else, and the server's content security policy allows
only that script and style (by hash).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from dora.bot.snapshot import BotSnapshot, CycleView, FillView, MarketView, SeriesPoint
from dora.core.models import TsMs
from dora.core.units import format_dollars
from dora.web.html import (
    Cell,
    Raw,
    card,
    contracts,
    document,
    money,
    price,
    table,
    utc_stamp,
    utc_time,
)
from dora.web.status_json import Health, health
from dora.web.svg import CENT, CONTRACT, PALETTE, Series, line_chart

INVENTORY_LINES = 6
SHOWN_ROWS = 15  # of recent fills and cycles (status.json has them all)
MIN_REFRESH_MS = 1000
MAX_REFRESH_MS = 10_000
REFRESH_SCRIPT = """(function(){
var every=Number(document.body.dataset.refreshMs)||2000;
function swap(text){var next=new DOMParser().parseFromString(text,"text/html");
var main=next.querySelector("main"),header=next.querySelector("header");
if(main){document.querySelector("main").replaceWith(main);}
if(header){document.querySelector("header").replaceWith(header);}}
function tick(){fetch(location.href,{cache:"no-store"})
.then(function(r){if(!r.ok){throw new Error(String(r.status));}return r.text();})
.then(function(t){swap(t);document.body.classList.remove("offline");})
.catch(function(){document.body.classList.add("offline");})
.finally(function(){setTimeout(tick,every);});}
setTimeout(tick,every);})();"""


def refresh_ms(snapshot: BotSnapshot | None) -> int:
    interval = snapshot.interval_ms if snapshot else 0
    return min(max(interval, MIN_REFRESH_MS), MAX_REFRESH_MS)


def status_page(snapshot: BotSnapshot | None, now_ms: TsMs) -> str:
    state = health(snapshot, now_ms)
    if snapshot is None:
        body = ('<section><p class="muted">dora is starting: no cycle has finished yet.</p>'
                "</section>")
        page = document("dora: starting", _header(None, state, now_ms), body, script=REFRESH_SCRIPT)
    else:
        page = document(_title(snapshot), _header(snapshot, state, now_ms), _body(snapshot),
                        script=REFRESH_SCRIPT)
    return page.replace("<body>", f'<body data-refresh-ms="{refresh_ms(snapshot)}">', 1)


def _title(s: BotSnapshot) -> str:
    state = "HALTED" if s.halted else "trading"
    return f"dora: {state}, {format_dollars(s.session_realized + s.unrealized)} session"


def _header(s: BotSnapshot | None, state: Health, now_ms: TsMs) -> str:
    badge = "ok" if state.ok else "bad"
    parts = ["<h1>dora</h1>",
             f'<span class="badge {badge}" id="health">{escape(state.status.upper())}</span>']
    if s is not None:
        if s.halted:
            parts.append(f'<span class="badge bad">halted: {escape(s.halt_reason or "manual")}'
                         "</span>")
        labels = " · ".join(f"{escape(k)} {escape(v)}" for k, v in s.labels)
        age = max(now_ms - s.taken_ms, 0)
        parts.append(f'<span class="meta">{labels + " · " if labels else ""}{escape(s.mode)} · '
                     f"cycle {s.cycle} · updated {age / 1000:.1f} s ago · run {escape(s.run_id)}"
                     f" · v{escape(s.version)}</span>")
    parts.append(f'<span class="meta">{escape(state.detail)} · {utc_stamp(now_ms)}</span>')
    return "".join(parts)


def _body(s: BotSnapshot) -> str:
    sections = [
        f'<section class="cards" id="summary">{_cards(s)}</section>',
        f'<section class="charts" id="charts"><figure>{_pnl_chart(s.series)}</figure>'
        f"<figure>{_inventory_chart(s.series)}</figure></section>",
        f'<section id="markets"><h2>Markets ({len(s.markets)})</h2>{_markets(s.markets)}</section>',
        '<section class="split">'
        f'<div id="fills"><h2>Recent fills</h2>{_fills(s.fills)}</div>'
        f'<div id="cycles"><h2>Last cycles</h2>{_cycles(s.cycles)}</div></section>',
    ]
    sections.extend(_optional_sections(s))
    return "".join(sections)


def _cards(s: BotSnapshot) -> str:
    held = sum(1 for m in s.markets if m.net)
    cards = [
        card("Session P&L", money(s.session_realized + s.unrealized), "realized + unrealized"),
        card("Session realized", money(s.session_realized), "fills and settlements, net of fees"),
        card("Unrealized", money(s.unrealized), "longs at best bid, shorts at best ask"),
        card("Daily P&L (risk)", money(s.daily_pnl), f"trading day {s.day or '-'}"),
        card("Fills", str(s.fills_total), "this session"),
        card("Net inventory", contracts(s.net_position), f"YES contracts, {held} markets"),
        card("Cash", money(s.balance) if s.balance is not None else "-",
             "portfolio " + (format_dollars(s.portfolio_value)
                             if s.portfolio_value is not None else "-")),
        card("API headroom", f"{s.rate.read_headroom_pct}% / {s.rate.write_headroom_pct}%",
             f"read / write, tier {s.rate.tier}, {s.rate.rate_limited} rate-limited"),
    ]
    if s.cash is not None:
        cards.append(card("Free cash", money(s.cash.free),
                          f"promised {format_dollars(s.cash.promised)}"))
    return "".join(cards)


def _pnl_chart(series: Sequence[SeriesPoint]) -> str:
    lines = (
        Series("total", tuple((p.ts_ms, p.realized + p.unrealized) for p in series), PALETTE[0]),
        Series("realized", tuple((p.ts_ms, p.realized) for p in series), PALETTE[2]),
        Series("unrealized", tuple((p.ts_ms, p.unrealized) for p in series), PALETTE[4]),
    )
    return line_chart("Session P&L", lines if series else (), format_dollars, min_step=CENT)


def _inventory_chart(series: Sequence[SeriesPoint]) -> str:
    """The markets with the largest positions over the session, one step line each."""
    largest: dict[str, int] = {}
    for point in series:
        for ticker, net in point.nets:
            largest[ticker] = max(largest.get(ticker, 0), abs(net))
    shown = sorted(largest, key=lambda t: (-largest[t], t))[:INVENTORY_LINES]
    lines = []
    for i, ticker in enumerate(sorted(shown)):
        points = tuple((p.ts_ms, dict(p.nets).get(ticker, 0)) for p in series)
        lines.append(Series(ticker, points, PALETTE[i % len(PALETTE)], step=True))
    return line_chart("Inventory (YES contracts)", lines, contracts, min_step=CONTRACT)


def _markets(markets: Sequence[MarketView]) -> str:
    rows: list[list[Cell]] = []
    with_breakers = any(m.breaker is not None for m in markets)
    for m in markets:
        row: list[Cell] = [
            m.ticker, "quoting" if m.quoting else "off", price(m.best_bid), price(m.best_ask),
            _quotes(m, "bid"), _quotes(m, "ask"), contracts(m.net), price(m.avg_entry),
            money(m.realized), money(m.unrealized), money(-m.fees),
        ]
        if with_breakers:
            row.append(m.breaker or "-")
        rows.append(row)
    headers = ["market", "state", "best bid", "best ask", "our bids", "our asks", "position",
               "avg entry", "realized", "unrealized", "fees"]
    if with_breakers:
        headers.append("breaker")
    return table(headers, rows, numeric=range(2, 11), empty="no market configured",
                 css_id="markets-table")


def _quotes(m: MarketView, side: str) -> Cell:
    quotes = [q for q in m.quotes if q.side == side]
    if not quotes:
        return Raw('<span class="muted">-</span>')
    return ", ".join(f"{contracts(q.remaining)} @ {price(q.price)}" for q in quotes)


def _fills(fills: Sequence[FillView]) -> str:
    rows: list[list[Cell]] = [
        [utc_time(v.fill.ts_ms), v.fill.ticker, "buy" if v.fill.side.value == "bid" else "sell",
         contracts(v.fill.count), price(v.fill.price), money(-v.fill.fee), money(v.realized),
         "taker" if v.fill.is_taker else "maker"]
        for v in fills[:SHOWN_ROWS]
    ]
    return table(["time (UTC)", "market", "side", "contracts", "price", "fee", "realized",
                  "liquidity"], rows, numeric=range(3, 7), empty="no fill yet this session")


def _cycles(cycles: Sequence[CycleView]) -> str:
    rows: list[list[Cell]] = [
        [str(c.cycle), utc_time(c.ended_ms), f"{c.duration_ms} ms", str(c.requests),
         str(c.tokens), f"+{c.placed} / -{c.cancelled}", str(c.failed), str(c.fills),
         str(c.markets_quoted)]
        for c in cycles[:SHOWN_ROWS]
    ]
    return table(["cycle", "ended", "took", "requests", "tokens", "orders", "failed", "fills",
                  "markets"], rows, numeric=range(2, 9))


def _optional_sections(s: BotSnapshot) -> list[str]:
    parts = []
    if s.lease is not None:
        lease = s.lease
        role = "standby" if lease.standby else "leader" if lease.held else "not held"
        parts.append('<section id="lease"><h2>Lease</h2>' + table(
            ["role", "holder", "expires (UTC)"],
            [[role, lease.holder or "-", utc_stamp(lease.expires_ms)]]) + "</section>")
    if s.cash is not None:
        parts.append('<section id="cash"><h2>Cash</h2>' + table(
            ["balance", "promised to resting orders", "free"],
            [[money(s.cash.balance), money(s.cash.promised), money(s.cash.free)]],
            numeric=range(3)) + "</section>")
    for section in s.sections:
        parts.append(f"<section><h2>{escape(section.title)}</h2>"
                     + table(["", ""], [list(r) for r in section.rows]) + "</section>")
    return parts

