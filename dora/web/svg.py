"""Charts as inline SVG: no script, no library, no network; the status page and the report share
them. Values stay exact integers until they become pixel coordinates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from dora.core.models import TsMs
from dora.core.timefmt import iso_ms

CENT = 10_000  # micro-dollars: the smallest money tick
CONTRACT = 100  # hundredths of a contract
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
           "#db2777", "#4b5563", "#65a30d")
WIDTH, HEIGHT = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 84, 14, 34, 30
Y_TICKS = 4
X_TICKS = 5
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: tuple[tuple[TsMs, int], ...]  # (time, value), in time order
    color: str
    step: bool = False  # holds its value until the next point (inventory)


@dataclass(frozen=True, slots=True)
class _Frame:
    x0: int
    x1: int
    y0: int
    y1: int

    def x(self, value: int) -> float:
        return LEFT + (value - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def y(self, value: int) -> float:
        return TOP + (self.y1 - value) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)


def line_chart(
    title: str, series: Sequence[Series], y_label: Callable[[int], str], *, min_step: int = 1,
) -> str:
    """Lines over time, a zero line, labelled axes and a legend; a note when there is no data.
    ``min_step`` is the smallest y tick step worth labelling (a cent, a contract)."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return _svg(title, f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" '
                           f'text-anchor="middle">no data yet</text>')
    frame = _frame(drawn, min_step)
    parts = [_y_axis(frame, y_label, min_step), _x_axis(frame)]
    for s in drawn:
        parts.append(f'<polyline class="series" fill="none" stroke="{s.color}" stroke-width="2" '
                     f'points="{_points(frame, s)}"><title>{escape(s.name)}</title></polyline>')
    return _svg(title, "".join(parts)) + legend([(s.name, s.color) for s in drawn])


def bar_chart(
    title: str, bars: Sequence[tuple[str, int]], y_label: Callable[[int], str], *,
    min_step: int = 1,
) -> str:
    """One bar per label (a day), green above zero and red below."""
    if not bars:
        return _svg(title, f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" '
                           f'text-anchor="middle">no data yet</text>')
    values = [v for _, v in bars]
    y0, y1 = _value_range(min(values), max(values), min_step)
    frame = _Frame(0, len(bars), y0, y1)
    slot = (WIDTH - LEFT - RIGHT) / len(bars)
    parts = [_y_axis(frame, y_label, min_step)]
    for i, (label, value) in enumerate(bars):
        top, bottom = sorted((frame.y(value), frame.y(0)))
        color = "#16a34a" if value >= 0 else "#dc2626"
        x = LEFT + i * slot + slot * 0.15
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{max(bottom - top, 1):.1f}" fill="{color}">'
                     f'<title>{escape(label)}: {escape(y_label(value))}</title></rect>')
        if len(bars) <= 14:
            parts.append(f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{HEIGHT - 10}" '
                         f'text-anchor="middle">{escape(label[5:])}</text>')
    return _svg(title, "".join(parts))


def _svg(title: str, body: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{escape(title)}</title>'
            f'<text class="chart-title" x="{LEFT}" y="18">{escape(title)}</text>{body}</svg>')


def _frame(series: Sequence[Series], min_step: int) -> _Frame:
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x0, x1 = min(xs), max(xs)
    if x0 == x1:
        x0, x1 = x0 - 1000, x1 + 1000
    y0, y1 = _value_range(min(ys), max(ys), min_step)
    return _Frame(x0, x1, y0, y1)


def _value_range(low: int, high: int, min_step: int) -> tuple[int, int]:
    """Includes zero, rounded out to a whole number of tick steps."""
    low, high = min(low, 0), max(high, 0)
    step = nice_step(high - low, min_step)
    bottom, top = (low // step) * step, -((-high) // step) * step
    return (bottom, top) if top > bottom else (bottom, bottom + step)


def nice_step(span: int, min_step: int = 1) -> int:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``Y_TICKS`` ticks."""
    raw = max(span // Y_TICKS, min_step, 1)
    power = 1
    while power * 10 <= raw:
        power *= 10
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _y_axis(frame: _Frame, y_label: Callable[[int], str], min_step: int) -> str:
    step = nice_step(frame.y1 - frame.y0, min_step)
    parts = []
    value = frame.y0
    while value <= frame.y1:
        y = frame.y(value)
        cls = "zero" if value == 0 else "grid"
        parts.append(f'<line class="{cls}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(y_label(value))}</text>')
        value += step
    return "".join(parts)


def _x_axis(frame: _Frame) -> str:
    parts = []
    for i in range(X_TICKS):
        ts = frame.x0 + (frame.x1 - frame.x0) * i // (X_TICKS - 1)
        anchor = "start" if i == 0 else "end" if i == X_TICKS - 1 else "middle"
        parts.append(f'<text class="tick" x="{frame.x(ts):.1f}" y="{HEIGHT - 10}" '
                     f'text-anchor="{anchor}">{time_label(ts, frame.x1 - frame.x0)}</text>')
    return "".join(parts)


def time_label(ts_ms: TsMs, span_ms: int) -> str:
    """UTC time of day for spans under a day, month-day and hour:minute beyond."""
    stamp = iso_ms(ts_ms)
    return stamp[11:19] if span_ms < DAY_MS else f"{stamp[5:10]} {stamp[11:16]}"


def _points(frame: _Frame, series: Series) -> str:
    coords: list[str] = []
    previous_y: float | None = None
    for x_value, y_value in series.points:
        x, y = frame.x(x_value), frame.y(y_value)
        if series.step and previous_y is not None:
            coords.append(f"{x:.1f},{previous_y:.1f}")
        coords.append(f"{x:.1f},{y:.1f}")
        previous_y = y
    if len(coords) == 1:  # one point: a short flat segment, so it shows
        x, y = (float(c) for c in coords[0].split(","))
        coords.append(f"{x + 2:.1f},{y:.1f}")
    return " ".join(coords)


def legend(entries: Sequence[tuple[str, str]]) -> str:
    """The series names under a chart, each with a swatch of its colour (as SVG: the page's
    content security policy allows no inline style attributes)."""
    items = "".join(
        f'<li><svg class="swatch" viewBox="0 0 10 10" width="10" height="10">'
        f'<rect width="10" height="10" fill="{color}"/></svg>{escape(name)}</li>'
        for name, color in entries
    )
    return f'<ul class="legend">{items}</ul>'
