"""HTML building blocks shared by the status page and the report: the document shell, tables,
cards and the formatting of exact figures for people (dollars with cents, contracts, prices)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from dora.core.models import TsMs
from dora.core.timefmt import iso_ms
from dora.core.units import Count, Micros, Price, format_count, format_dollars, format_price

STYLE = """
:root{color-scheme:light;--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb;
--pos:#15803d;--neg:#b91c1c;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:center;padding:.8rem 1.2rem;
background:#111827;color:#f9fafb}
header h1{font-size:1.15rem;margin:0}
header .meta{color:#d1d5db;font-size:.85rem}
main{padding:1rem 1.2rem;max-width:1600px}
section{margin:0 0 1.2rem}
h2{font-size:1rem;margin:0 0 .5rem}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-weight:600;
font-size:.8rem}
.ok{background:#dcfce7;color:#14532d}.bad{background:#fee2e2;color:#7f1d1d}
.neutral{background:#e5e7eb;color:#111827}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.55rem .75rem}
.card .label{color:var(--muted);font-size:.78rem}
.card .value{font-size:1.25rem;font-weight:600;font-variant-numeric:tabular-nums}
.card .note{color:var(--muted);font-size:.75rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:.8rem}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.4rem}
svg.chart{width:100%;height:auto;display:block}
svg .grid{stroke:#e5e7eb;stroke-width:1}svg .zero{stroke:#9ca3af;stroke-width:1}
svg .tick{font-size:11px;fill:#6b7280}svg .chart-title{font-size:13px;font-weight:600;fill:#111827}
svg .empty{font-size:13px;fill:#9ca3af}
ul.legend{list-style:none;margin:.2rem .4rem;padding:0;display:flex;flex-wrap:wrap;gap:.2rem .9rem;
font-size:.78rem;color:#374151}
ul.legend svg{margin-right:.3rem;vertical-align:-1px}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{padding:.3rem .55rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{font-size:.78rem;color:var(--muted);font-weight:600;background:#f3f4f6}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:var(--pos)}.neg{color:var(--neg)}.muted{color:var(--muted)}
.split{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:.8rem}
.scroll{overflow-x:auto}
.offline-banner{display:none}
body.offline .offline-banner{display:block;background:#fef3c7;color:#78350f;padding:.5rem 1.2rem}
footer{color:var(--muted);font-size:.75rem;padding:0 1.2rem 1rem}
"""


@dataclass(frozen=True, slots=True)
class Raw:
    """Markup that is already escaped."""

    html: str


Cell = str | Raw


def csp_hash(text: str) -> str:
    """A Content-Security-Policy source for an inline script or style."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def document(title: str, header: str, body: str, *, script: str = "") -> str:
    scripts = f"<script>{script}</script>" if script else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        '<div class="offline-banner">dora is not answering: the figures below are the last '
        f"ones it published.</div><header>{header}</header><main>{body}</main>{scripts}"
        "</body></html>"
    )


def cell_html(cell: Cell) -> str:
    return cell.html if isinstance(cell, Raw) else escape(cell)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, numeric: Sequence[int] = (),
    empty: str = "nothing yet", css_id: str = "",
) -> str:
    right = set(numeric)
    head = "".join(f'<th class="num">{escape(h)}</th>' if i in right else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(headers))
    if not rows:
        body = f'<tr><td class="muted" colspan="{len(headers)}">{escape(empty)}</td></tr>'
    else:
        body = "".join(
            "<tr>" + "".join(f'<td class="num">{cell_html(c)}</td>' if i in right
                             else f"<td>{cell_html(c)}</td>" for i, c in enumerate(row)) + "</tr>"
            for row in rows
        )
    ident = f' id="{escape(css_id)}"' if css_id else ""
    return (f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def card(label: str, value: Cell, note: str = "") -> str:
    extra = f'<div class="note">{escape(note)}</div>' if note else ""
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{cell_html(value)}</div>{extra}</div>')


def money(amount: Micros) -> Raw:
    """Dollars with cents, green above zero and red below."""
    cls = "pos" if amount > 0 else "neg" if amount < 0 else ""
    text = escape(format_dollars(amount))
    return Raw(f'<span class="{cls}">{text}</span>' if cls else text)


def contracts(count: Count) -> str:
    """Contracts without needless decimals: 10.00 -> "10", 2.50 -> "2.50"."""
    text = format_count(count)
    return text[:-3] if text.endswith(".00") else text


def price(value: Price | None) -> str:
    """A price in cents for people ("56¢", "56.5¢"), "-" when there is none."""
    if value is None:
        return "-"
    cents = format_price(value * 100)[:-2].rstrip("0").rstrip(".")
    return f"{cents}¢"


def pct_tenths(tenths: int | None) -> str:
    return "-" if tenths is None else f"{tenths // 10}.{tenths % 10}%"


def utc_time(ts_ms: TsMs) -> str:
    return iso_ms(ts_ms)[11:19]


def utc_stamp(ts_ms: TsMs) -> str:
    return iso_ms(ts_ms)[:19].replace("T", " ") + " UTC"
