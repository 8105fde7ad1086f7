"""The P&L report's numbers (pure): realized from the rows, positions replayed, marks as the risk
check marks them."""

from __future__ import annotations

import pytest

from dora.core.models import Fill, PositionState, Side
from dora.core.pnl_report import (
    BookMark,
    LoggedFill,
    build_report,
    share_pct_tenths,
    thin,
)
from dora.core.positions import apply_fill
from tests.core.builders import NOW

C = 100
DAY = 86_400_000


def logged(fill_id: str, ticker: str, side: Side, price: int, count: int, ts: int, *,
           fee: int = 0, realized: int | None = None, taker: bool | None = False) -> LoggedFill:
    fill = Fill(fill_id, f"o-{fill_id}", ticker, side, price, count, fee, bool(taker), ts)
    return LoggedFill(fill, 0 if realized is None else realized, taker)


def replayed(fills: list[LoggedFill]) -> list[LoggedFill]:
    """Rows as the bot writes them: realized is apply_fill's delta."""
    positions: dict[str, PositionState] = {}
    out = []
    for lf in sorted(fills, key=lambda f: (f.fill.ts_ms, f.fill.fill_id)):
        state = positions.get(lf.fill.ticker, PositionState(lf.fill.ticker))
        positions[lf.fill.ticker], delta = apply_fill(state, lf.fill)
        out.append(LoggedFill(lf.fill, delta, lf.taker))
    return out


def test_round_trip_realized_and_totals_are_the_rows_sums():
    rows = replayed([
        logged("a", "M1", Side.BID, 4000, 10 * C, NOW, fee=70_000),
        logged("b", "M1", Side.ASK, 4500, 10 * C, NOW + 1000, fee=70_000, taker=True),
    ])
    report = build_report(rows, [], "2026-01-01", "2026-01-01")
    assert report.totals.realized == sum(r.realized for r in rows) == 500_000 - 140_000
    assert report.totals.fees == 140_000
    assert report.totals.volume == 20 * C
    assert report.totals.fills == 2
    assert (report.totals.maker_volume, report.totals.taker_volume) == (10 * C, 10 * C)
    (market,) = report.markets
    assert market.net == 0 and market.replay_matches
    assert report.unrealized == 0


def test_open_positions_are_marked_like_the_risk_check():
    rows = replayed([
        logged("a", "LONG", Side.BID, 4000, 10 * C, NOW),
        logged("b", "SHORT", Side.ASK, 6000, 5 * C, NOW),
    ])
    marks = [BookMark(NOW + 10, "LONG", 3800, 4200), BookMark(NOW + 10, "SHORT", 5800, 6300),
             BookMark(NOW + 10, "UNTRADED", 100, 9900)]
    report = build_report(rows, marks, "2026-01-01", "2026-01-01")
    by = {m.ticker: m for m in report.markets}
    assert by["LONG"].unrealized == (3800 - 4000) * 10 * C  # long at the best bid
    assert by["SHORT"].unrealized == (6000 - 6300) * 5 * C  # short at the best ask
    assert report.unrealized == by["LONG"].unrealized + by["SHORT"].unrealized
    assert report.pnl_series[-1].unrealized == report.unrealized
    assert report.marks == 2  # the untraded market's marks are ignored
    assert [m.ticker for m in report.worst] == ["LONG", "SHORT"]  # -$0.20, then -$0.15


def test_a_mark_with_an_empty_side_marks_nothing():
    rows = replayed([logged("a", "M", Side.BID, 4000, C, NOW)])
    report = build_report(rows, [BookMark(NOW + 1, "M", None, 4100)], "d", "d")
    assert report.unrealized == 0


def test_position_carried_into_the_window_is_flagged():
    # the row's realized came from a position opened before the window
    rows = [logged("x", "M", Side.ASK, 5000, C, NOW, realized=1_000)]
    report = build_report(rows, [], "2026-01-01", "2026-01-01")
    assert report.totals.realized == 1_000
    assert not report.markets[0].replay_matches


def test_per_day_split_by_utc_fill_date():
    rows = replayed([logged("a", "M", Side.BID, 4000, C, NOW),
                     logged("b", "M", Side.ASK, 4100, C, NOW + DAY)])
    report = build_report(rows, [], "2026-01-01", "2026-01-02")
    assert [(d.day, d.totals.fills) for d in report.days] == [("2026-01-01", 1),
                                                              ("2026-01-02", 1)]
    assert sum(d.totals.realized for d in report.days) == report.totals.realized


def test_inventory_lines_start_flat_and_run_to_the_end():
    rows = replayed([logged("a", "A", Side.BID, 4000, 3 * C, NOW),
                     logged("b", "B", Side.ASK, 4000, 2 * C, NOW + 5000)])
    report = build_report(rows, [], "d", "d")
    a = report.inventory["A"]
    assert (a[0].net, a[1].net, a[-1].ts_ms) == (0, 3 * C, NOW + 5000)


def test_series_are_thinned_to_the_limit_keeping_both_ends():
    rows = replayed([logged(f"{i:04d}", "M", Side.BID if i % 2 else Side.ASK, 5000, C, NOW + i)
                     for i in range(1000)])
    report = build_report(rows, [], "d", "d", max_points=50)
    assert len(report.pnl_series) == 50
    assert report.pnl_series[0].ts_ms == NOW and report.pnl_series[-1].ts_ms == NOW + 999
    assert thin([1, 2, 3], 5) == (1, 2, 3)
    with pytest.raises(ValueError):
        thin([1, 2, 3], 1)


def test_share_in_tenths_of_a_percent():
    assert share_pct_tenths(1, 3) == 333
    assert share_pct_tenths(2, 3) == 667
    assert share_pct_tenths(0, 0) is None
