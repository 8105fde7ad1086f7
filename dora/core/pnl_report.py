"""The P&L report's numbers, from the trade log's fills and the decision log's book marks. Pure.

Realized P&L is each trade-log row's own figure: the delta the bot added to its daily P&L for that
fill (net of the fee), so the report's realized total is exactly the trade log's sum. Positions are
replayed from the window's first fill with the bot's rules (:func:`dora.core.positions.apply_fill`)
and marked the way the risk check marks them (:func:`dora.core.positions.unrealized_pnl`: a long
at the best bid, a short at the best ask) at every book snapshot the decision log holds. A market
whose position was opened before the window shows ``replay_matches=False``: its inventory and
unrealized figures count only the window's fills.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from dora.core.models import Fill, Level, OrderBook, PositionState, TsMs
from dora.core.positions import apply_fill, unrealized_pnl
from dora.core.timefmt import utc_date
from dora.core.units import Count, Micros, Price, notional

MAX_SERIES_POINTS = 600
WORST_MARKETS = 5
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LoggedFill:
    """One trade-log row: the fill and the realized P&L the bot booked for it."""

    fill: Fill
    realized: Micros
    taker: bool | None  # None: the row does not say (rows the earlier bot wrote)


@dataclass(frozen=True, slots=True)
class BookMark:
    """The best bid and ask of one market at one moment, from a decision-log record."""

    ts_ms: TsMs
    ticker: str
    best_bid: Price | None
    best_ask: Price | None


@dataclass(frozen=True, slots=True)
class Totals:
    fills: int = 0
    volume: Count = 0
    notional: Micros = 0
    fees: Micros = 0
    realized: Micros = 0
    maker_fills: int = 0
    taker_fills: int = 0
    maker_volume: Count = 0
    taker_volume: Count = 0

    def add(self, logged: LoggedFill) -> Totals:
        fill = logged.fill
        maker, taker = logged.taker is False, logged.taker is True
        return Totals(
            fills=self.fills + 1, volume=self.volume + fill.count,
            notional=self.notional + notional(fill.price, fill.count),
            fees=self.fees + fill.fee, realized=self.realized + logged.realized,
            maker_fills=self.maker_fills + maker, taker_fills=self.taker_fills + taker,
            maker_volume=self.maker_volume + (fill.count if maker else 0),
            taker_volume=self.taker_volume + (fill.count if taker else 0),
        )


@dataclass(frozen=True, slots=True)
class MarketSummary:
    ticker: str
    totals: Totals
    net: Count  # at the end of the window
    unrealized: Micros
    marked: bool  # the decision log had a book for it after its first fill
    replay_matches: bool  # replaying the window's fills gives the logged realized P&L

    @property
    def total(self) -> Micros:
        return self.totals.realized + self.unrealized


@dataclass(frozen=True, slots=True)
class DaySummary:
    day: str
    totals: Totals


@dataclass(frozen=True, slots=True)
class PnlPoint:
    ts_ms: TsMs
    realized: Micros
    unrealized: Micros

    @property
    def total(self) -> Micros:
        return self.realized + self.unrealized


@dataclass(frozen=True, slots=True)
class InventoryPoint:
    ts_ms: TsMs
    net: Count


@dataclass(frozen=True, slots=True)
class PnlReport:
    first_day: str
    last_day: str
    totals: Totals
    unrealized: Micros
    markets: tuple[MarketSummary, ...]
    days: tuple[DaySummary, ...]
    pnl_series: tuple[PnlPoint, ...]
    inventory: Mapping[str, tuple[InventoryPoint, ...]]
    marks: int
    skipped: tuple[str, ...] = ()

    @property
    def total(self) -> Micros:
        return self.totals.realized + self.unrealized

    @property
    def worst(self) -> tuple[MarketSummary, ...]:
        """The markets that lost most (total P&L below zero), worst first."""
        losers = sorted((m for m in self.markets if m.total < 0), key=lambda m: (m.total, m.ticker))
        return tuple(losers[:WORST_MARKETS])


@dataclass
class _Replay:
    """Positions, books and P&L as the events are walked in time order."""

    positions: dict[str, PositionState] = field(default_factory=dict)
    books: dict[str, OrderBook] = field(default_factory=dict)
    unrealized: dict[str, Micros] = field(default_factory=dict)
    replayed_realized: dict[str, Micros] = field(default_factory=dict)
    realized: Micros = 0
    unrealized_total: Micros = 0
    points: list[PnlPoint] = field(default_factory=list)
    inventory: dict[str, list[InventoryPoint]] = field(default_factory=dict)
    marked: set[str] = field(default_factory=set)

    def on_fill(self, logged: LoggedFill) -> None:
        fill = logged.fill
        position = self.positions.get(fill.ticker, PositionState(fill.ticker))
        position, delta = apply_fill(position, fill)
        self.positions[fill.ticker] = position
        self.replayed_realized[fill.ticker] = self.replayed_realized.get(fill.ticker, 0) + delta
        self.realized += logged.realized
        line = self.inventory.setdefault(fill.ticker, [InventoryPoint(fill.ts_ms, 0)])
        line.append(InventoryPoint(fill.ts_ms, position.net))
        self._remark(fill.ticker, fill.ts_ms)

    def on_mark(self, mark: BookMark) -> None:
        self.books[mark.ticker] = _book(mark)
        if mark.ticker in self.positions:
            self.marked.add(mark.ticker)
        self._remark(mark.ticker, mark.ts_ms)

    def _remark(self, ticker: str, ts_ms: TsMs) -> None:
        position, book = self.positions.get(ticker), self.books.get(ticker)
        value = unrealized_pnl(position, book) if position and book else 0
        self.unrealized_total += value - self.unrealized.get(ticker, 0)
        self.unrealized[ticker] = value
        if position is not None:
            self.points.append(PnlPoint(ts_ms, self.realized, self.unrealized_total))


def build_report(
    fills: Iterable[LoggedFill], marks: Iterable[BookMark], first_day: str, last_day: str,
    *, skipped: Sequence[str] = (), max_points: int = MAX_SERIES_POINTS,
) -> PnlReport:
    """Every figure of the report; ``marks`` of markets without fills are ignored."""
    ordered = sorted(fills, key=lambda f: (f.fill.ts_ms, f.fill.fill_id))
    traded = {f.fill.ticker for f in ordered}
    relevant = sorted((m for m in marks if m.ticker in traded), key=lambda m: m.ts_ms)
    replay = _walk(ordered, relevant)
    markets = _markets(ordered, replay)
    return PnlReport(
        first_day=first_day, last_day=last_day, totals=_sum(ordered),
        unrealized=replay.unrealized_total, markets=markets, days=_days(ordered),
        pnl_series=thin(replay.points, max_points),
        inventory={t: thin(points, max_points) for t, points in sorted(replay.inventory.items())},
        marks=len(relevant), skipped=tuple(skipped),
    )


def _walk(fills: Sequence[LoggedFill], marks: Sequence[BookMark]) -> _Replay:
    """Fills and marks merged by time; at the same millisecond the fill comes first."""
    replay = _Replay()
    i = j = 0
    while i < len(fills) or j < len(marks):
        if j >= len(marks) or (i < len(fills) and fills[i].fill.ts_ms <= marks[j].ts_ms):
            replay.on_fill(fills[i])
            i += 1
        else:
            replay.on_mark(marks[j])
            j += 1
    if replay.points:  # every inventory line runs to the last event
        end = replay.points[-1].ts_ms
        for ticker, line in replay.inventory.items():
            if line[-1].ts_ms < end:
                line.append(InventoryPoint(end, replay.positions[ticker].net))
    return replay


def _markets(fills: Sequence[LoggedFill], replay: _Replay) -> tuple[MarketSummary, ...]:
    totals: dict[str, Totals] = {}
    for logged in fills:
        ticker = logged.fill.ticker
        totals[ticker] = totals.get(ticker, Totals()).add(logged)
    return tuple(
        MarketSummary(
            ticker=ticker, totals=t, net=replay.positions[ticker].net,
            unrealized=replay.unrealized.get(ticker, 0), marked=ticker in replay.marked,
            replay_matches=replay.replayed_realized.get(ticker, 0) == t.realized,
        )
        for ticker, t in sorted(totals.items())
    )


def _days(fills: Sequence[LoggedFill]) -> tuple[DaySummary, ...]:
    totals: dict[str, Totals] = {}
    for logged in fills:
        day = utc_date(logged.fill.ts_ms)
        totals[day] = totals.get(day, Totals()).add(logged)
    return tuple(DaySummary(day, t) for day, t in sorted(totals.items()))


def _sum(fills: Sequence[LoggedFill]) -> Totals:
    total = Totals()
    for logged in fills:
        total = total.add(logged)
    return total


def _book(mark: BookMark) -> OrderBook:
    """A one-level book: only the best prices matter for marking."""
    bids = (Level(mark.best_bid, 0),) if mark.best_bid is not None else ()
    asks = (Level(mark.best_ask, 0),) if mark.best_ask is not None else ()
    return OrderBook(mark.ticker, bids, asks)


def thin(points: Sequence[T], max_points: int) -> tuple[T, ...]:
    """At most ``max_points`` evenly spaced points, always keeping the first and the last."""
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    count = len(points)
    if count <= max_points:
        return tuple(points)
    return tuple(points[i * (count - 1) // (max_points - 1)] for i in range(max_points))


def share_pct_tenths(part: int, whole: int) -> int | None:
    """``part / whole`` in tenths of a percent, rounded half up; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (2000 * part + whole) // (2 * whole)

