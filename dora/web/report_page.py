"""The P&L report as one self-contained HTML file (inline SVG charts, no script, nothing fetched)
and as JSON (exact decimal dollars, as the trade log stores them)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from dora.core.models import TsMs
from dora.core.pnl_report import MarketSummary, PnlReport, Totals, share_pct_tenths
from dora.core.timefmt import iso_ms
from dora.core.units import format_count, format_dollars, format_micros
from dora.web.html import Cell, card, contracts, document, money, pct_tenths, table, utc_stamp
from dora.web.svg import CENT, CONTRACT, PALETTE, Series, bar_chart, line_chart

INVENTORY_LINES = 8


def report_json(report: PnlReport, generated_ms: TsMs) -> dict[str, Any]:
    return {
        "from": report.first_day, "to": report.last_day, "generated": iso_ms(generated_ms),
        "totals": {**_totals(report.totals),
                   "unrealized_pnl": format_micros(report.unrealized),
                   "total_pnl": format_micros(report.total)},
        "markets": [_market(m) for m in report.markets],
        "days": [{"day": d.day, **_totals(d.totals)} for d in report.days],
        "worst_markets": [m.ticker for m in report.worst],
        "pnl_over_time": [{"time": iso_ms(p.ts_ms), "realized_pnl": format_micros(p.realized),
                           "unrealized_pnl": format_micros(p.unrealized)}
                          for p in report.pnl_series],
        "inventory_over_time": {t: [{"time": iso_ms(p.ts_ms), "net": format_count(p.net)}
                                    for p in points]
                                for t, points in report.inventory.items()},
        "book_marks": report.marks,
        "skipped_rows": list(report.skipped),
    }


def _totals(t: Totals) -> dict[str, Any]:
    return {
        "fills": t.fills, "volume": format_count(t.volume), "notional": format_micros(t.notional),
        "fees": format_micros(t.fees), "realized_pnl": format_micros(t.realized),
        "maker_fills": t.maker_fills, "taker_fills": t.taker_fills,
        "maker_volume": format_count(t.maker_volume), "taker_volume": format_count(t.taker_volume),
    }


def _market(m: MarketSummary) -> dict[str, Any]:
    return {"ticker": m.ticker, **_totals(m.totals), "net_position": format_count(m.net),
            "unrealized_pnl": format_micros(m.unrealized), "total_pnl": format_micros(m.total),
            "marked": m.marked, "opened_in_window": m.replay_matches}


def report_html(report: PnlReport, generated_ms: TsMs, source: str) -> str:
    period = (report.first_day if report.first_day == report.last_day
              else f"{report.first_day} to {report.last_day}")
    header = (f"<h1>dora P&amp;L report</h1><span class=\"meta\">{escape(period)} (UTC) · "
              f"{escape(source)} · generated {utc_stamp(generated_ms)}</span>")
    body = "".join([
        f'<section class="cards" id="summary">{_cards(report)}</section>',
        '<section class="charts" id="charts">'
        f"<figure>{_pnl_chart(report)}</figure><figure>{_inventory_chart(report)}</figure>"
        f"<figure>{_daily_chart(report)}</figure></section>",
        f'<section id="worst"><h2>Markets that lost most</h2>'
        f'{_market_table(report.worst, "no market lost money")}'
        "</section>",
        f'<section id="markets"><h2>Per market</h2>{_market_table(report.markets, "no fill")}'
        "</section>",
        f'<section id="days"><h2>Per day</h2>{_day_table(report)}</section>',
        _notes(report),
    ])
    return document(f"dora P&L {period}", header, body)


def _cards(r: PnlReport) -> str:
    t = r.totals
    maker = share_pct_tenths(t.maker_volume, t.maker_volume + t.taker_volume)
    return "".join([
        card("Total P&L", money(r.total), "realized + unrealized"),
        card("Realized", money(t.realized), "net of fees, as the risk check counts it"),
        card("Unrealized", money(r.unrealized), "at the last book in the decision log"),
        card("Fees", money(-t.fees)),
        card("Fills", str(t.fills), f"{len(r.markets)} markets"),
        card("Volume", contracts(t.volume), f"contracts, {format_dollars(t.notional)} notional"),
        card("Maker share", pct_tenths(maker),
             f"of volume; {t.maker_fills} maker / {t.taker_fills} taker fills"),
    ])


def _pnl_chart(r: PnlReport) -> str:
    points = r.pnl_series
    lines = (
        Series("total", tuple((p.ts_ms, p.total) for p in points), PALETTE[0]),
        Series("realized", tuple((p.ts_ms, p.realized) for p in points), PALETTE[2]),
        Series("unrealized", tuple((p.ts_ms, p.unrealized) for p in points), PALETTE[4]),
    )
    return line_chart("P&L over time", lines if points else (), format_dollars, min_step=CENT)


def _inventory_chart(r: PnlReport) -> str:
    largest = {t: max(abs(p.net) for p in points) for t, points in r.inventory.items() if points}
    shown = sorted(sorted(largest, key=lambda t: (-largest[t], t))[:INVENTORY_LINES])
    lines = [Series(t, tuple((p.ts_ms, p.net) for p in r.inventory[t]),
                    PALETTE[i % len(PALETTE)], step=True) for i, t in enumerate(shown)]
    return line_chart("Inventory over time (YES contracts)", lines, contracts, min_step=CONTRACT)


def _daily_chart(r: PnlReport) -> str:
    return bar_chart("Realized P&L per day", [(d.day, d.totals.realized) for d in r.days],
                     format_dollars, min_step=CENT)


def _market_table(markets: Sequence[MarketSummary], empty: str) -> str:
    rows: list[list[Cell]] = []
    for m in markets:
        t = m.totals
        maker = share_pct_tenths(t.maker_volume, t.maker_volume + t.taker_volume)
        rows.append([m.ticker, str(t.fills), contracts(t.volume), money(-t.fees),
                     money(t.realized), money(m.unrealized), money(m.total), contracts(m.net),
                     pct_tenths(maker), "" if m.replay_matches else "opened before the window"])
    return table(["market", "fills", "volume", "fees", "realized", "unrealized", "total",
                  "position", "maker share", "note"], rows, numeric=range(1, 9), empty=empty)


def _day_table(r: PnlReport) -> str:
    rows: list[list[Cell]] = [
        [d.day, str(d.totals.fills), contracts(d.totals.volume), money(-d.totals.fees),
         money(d.totals.realized),
         pct_tenths(share_pct_tenths(d.totals.maker_volume,
                                     d.totals.maker_volume + d.totals.taker_volume))]
        for d in r.days
    ]
    return table(["day (UTC)", "fills", "volume", "fees", "realized", "maker share"], rows,
                 numeric=range(1, 6), empty="no fill in this period")


def _notes(r: PnlReport) -> str:
    notes = [
        "Realized P&L is each trade-log row's own figure (net of its fee): the sums here are "
        "the trade log's sums. Settlements are not in the trade log.",
        "Positions are replayed from the first fill in the period; unrealized P&L marks longs "
        "at the best bid and shorts at the best ask recorded in the decision log "
        f"({r.marks} book snapshots).",
    ]
    if r.skipped:
        notes.append(f"{len(r.skipped)} rows could not be read and are left out: "
                     + "; ".join(r.skipped[:5]))
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return f'<section id="notes"><h2>Notes</h2><ul class="muted">{items}</ul></section>'
