"""What the status page shows, published by the loop once per cycle as one immutable snapshot.

The loop never waits on a reader: at the end of each cycle it builds a frozen :class:`BotSnapshot`
and swaps it into a :class:`SnapshotHolder` (one reference under a lock held only for the swap).
The HTTP server (:mod:`dora.web.server`) only reads the latest one. History the page charts (session
P&L and inventory) lives in bounded buffers here, owned by the loop's thread.

Optional facts from other parts of dora (the lease, per-market circuit breakers, promised and free
cash, the calibration report) have optional fields; the page renders a section only when its field
is set.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from dora.bot.lease import Role
from dora.bot.state import BotState
from dora.bot.status import CycleSource, CycleSummary
from dora.core.models import Fill, PositionState, TsMs
from dora.core.positions import avg_entry_price, unrealized_pnl
from dora.core.units import Count, Micros, Price
from dora.runtime.logs import EventType, bot_version, log_event

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class QuoteView:
    side: str  # bid | ask
    price: Price
    remaining: Count


@dataclass(frozen=True, slots=True)
class MarketView:
    ticker: str
    quoting: bool  # enabled, valid config and known rules
    best_bid: Price | None
    best_ask: Price | None
    quotes: tuple[QuoteView, ...]  # dora's orders as the exchange listed them this cycle
    net: Count
    avg_entry: Price | None
    realized: Micros
    unrealized: Micros
    fees: Micros
    breaker: str | None = None  # the market's circuit-breaker state, when dora has breakers


@dataclass(frozen=True, slots=True)
class FillView:
    fill: Fill
    realized: Micros


@dataclass(frozen=True, slots=True)
class CycleView:
    cycle: int
    ended_ms: TsMs
    duration_ms: int
    requests: int
    tokens: int
    placed: int
    cancelled: int
    failed: int
    fills: int
    markets_quoted: int


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    ts_ms: TsMs
    realized: Micros  # realized P&L since this process started (fills and settlements)
    unrealized: Micros
    nets: tuple[tuple[str, Count], ...]  # markets holding a position


@dataclass(frozen=True, slots=True)
class RateView:
    tier: str
    read_headroom_pct: int
    write_headroom_pct: int
    rate_limited: int  # 429s this session


@dataclass(frozen=True, slots=True)
class LeaseView:
    holder: str
    held: bool
    standby: bool
    expires_ms: TsMs


@dataclass(frozen=True, slots=True)
class CashView:
    balance: Micros
    promised: Micros
    free: Micros


@dataclass(frozen=True, slots=True)
class InfoSection:
    """A titled list of facts (e.g. the calibration report), rendered as a two-column table."""

    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class BotSnapshot:
    run_id: str
    version: str
    labels: tuple[tuple[str, str], ...]  # where this bot runs: env, exchange, tier
    taken_ms: TsMs
    interval_ms: int
    cycle: int
    mode: str
    halted: bool
    halt_reason: str
    day: str
    daily_pnl: Micros  # the risk check's figure: realized since the trading day began
    session_realized: Micros
    unrealized: Micros
    fills_total: int
    net_position: Count
    balance: Micros | None
    portfolio_value: Micros | None
    markets: tuple[MarketView, ...]
    fills: tuple[FillView, ...]  # newest first
    cycles: tuple[CycleView, ...]  # newest first
    series: tuple[SeriesPoint, ...]
    rate: RateView
    lease: LeaseView | None = None
    cash: CashView | None = None
    sections: tuple[InfoSection, ...] = ()


class SnapshotHolder:
    """The latest snapshot, swapped whole; readers on any thread, one writer (the loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: BotSnapshot | None = None

    def publish(self, snapshot: BotSnapshot) -> None:
        with self._lock:
            self._latest = snapshot

    def latest(self) -> BotSnapshot | None:
        with self._lock:
            return self._latest


class DecimatingBuffer(Generic[T]):
    """At most ``capacity`` points covering the whole session: when full, every other point is
    dropped and only every second later point is kept; the newest point is always shown."""

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"capacity must be at least 2, got {capacity}")
        self._capacity = capacity
        self._points: list[T] = []
        self._stride = 1
        self._added = 0
        self._tail: T | None = None

    def add(self, point: T) -> None:
        self._added += 1
        if self._added % self._stride:
            self._tail = point
            return
        self._points.append(point)
        self._tail = None
        if len(self._points) > self._capacity:
            self._points = self._points[::2]
            self._stride *= 2

    def view(self) -> tuple[T, ...]:
        return (*self._points, self._tail) if self._tail is not None else tuple(self._points)


class _Settings(Protocol):
    @property
    def interval_ms(self) -> int | None: ...
    @property
    def id_prefix(self) -> str: ...
    @property
    def env(self) -> str: ...


class SnapshotSource(CycleSource, Protocol):
    """What a snapshot reads from the loop (the Bot), without importing it."""

    @property
    def settings(self) -> _Settings: ...
    @property
    def run_id(self) -> str: ...


class SnapshotPublisher:
    """Builds one snapshot per cycle on the loop's thread and hands it to the holder. A failure
    here is logged and never fails the cycle: the page is for people, trading comes first."""

    def __init__(
        self, holder: SnapshotHolder, logger: logging.Logger, *,
        labels: Sequence[tuple[str, str]] = (), max_points: int = 720, max_fills: int = 40,
        max_cycles: int = 30,
    ) -> None:
        self.holder = holder
        self._log = logger
        self._labels = tuple(labels)
        self._version = bot_version()
        self._series: DecimatingBuffer[SeriesPoint] = DecimatingBuffer(max_points)
        self._fills: deque[FillView] = deque(maxlen=max_fills)
        self._cycles: deque[CycleView] = deque(maxlen=max_cycles)
        self._session_realized: Micros = 0
        self._last_daily: tuple[str, Micros] | None = None
        self._rate_limited = 0
        self._failed_once = False

    def publish(
        self, bot: SnapshotSource, summary: CycleSummary, fills: Sequence[tuple[Fill, Micros]]
    ) -> None:
        try:
            self.holder.publish(self._build(bot, summary, fills))
        except Exception as exc:  # a display bug must never stop trading
            if not self._failed_once:
                log_event(self._log, EventType.ERROR, f"status snapshot failed: {exc}",
                          level=logging.ERROR, error_type=type(exc).__name__, exc_info=True)
            self._failed_once = True

    def _build(
        self, bot: SnapshotSource, summary: CycleSummary, fills: Sequence[tuple[Fill, Micros]]
    ) -> BotSnapshot:
        state, now_ms = bot.state, bot.clock.now_ms()
        self._track_realized(state, fills)
        self._rate_limited += summary.rate_limited
        self._fills.extendleft(FillView(f, pnl) for f, pnl in fills)
        self._cycles.appendleft(_cycle_view(summary, now_ms))
        markets = _markets(state, _own_quotes(state, bot.settings.id_prefix))
        unrealized = sum(m.unrealized for m in markets)
        nets = tuple((m.ticker, m.net) for m in markets if m.net)
        self._series.add(SeriesPoint(now_ms, self._session_realized, unrealized, nets))
        interval = bot.settings.interval_ms
        balance = state.balance
        lease = bot.lease.snapshot()
        ledger = state.cash_view()
        return BotSnapshot(
            run_id=bot.run_id, version=self._version, labels=self._labels, taken_ms=now_ms,
            interval_ms=state.global_config.loop_interval_ms if interval is None else interval,
            cycle=bot.cycle, mode=bot.mode.value, halted=state.risk.trading_halted,
            halt_reason=state.risk.halt_reason, day=state.risk.day,
            daily_pnl=state.risk.daily_pnl, session_realized=self._session_realized,
            unrealized=unrealized, fills_total=state.fills_total,
            net_position=summary.net_position,
            balance=balance.balance if balance else None,
            portfolio_value=balance.portfolio_value if balance else None,
            markets=markets, fills=tuple(self._fills), cycles=tuple(self._cycles),
            series=self._series.view(),
            rate=RateView(bot.client.limiter.tier.name, summary.read_headroom_pct,
                          summary.write_headroom_pct, self._rate_limited),
            lease=LeaseView(holder=lease.holder, held=lease.role is Role.HOLDER,
                            standby=lease.role is Role.STANDBY, expires_ms=lease.expires_ms),
            cash=CashView(ledger.balance, ledger.promised, ledger.free) if ledger else None,
        )

    def _track_realized(self, state: BotState, fills: Sequence[tuple[Fill, Micros]]) -> None:
        """Session realized P&L moves exactly as the risk check's daily P&L does (fills and
        settlements), across trading-day rolls; the first cycle counts only its own fills."""
        day, daily = state.risk.day, state.risk.daily_pnl
        if self._last_daily is None:
            self._session_realized += sum(pnl for _, pnl in fills)
        elif self._last_daily[0] == day:
            self._session_realized += daily - self._last_daily[1]
        else:
            self._session_realized += daily
        self._last_daily = (day, daily)


def _cycle_view(s: CycleSummary, now_ms: TsMs) -> CycleView:
    return CycleView(s.cycle, now_ms, s.duration_ms, s.requests, s.tokens, s.placed,
                     s.cancelled, s.failed, s.fills, s.markets_quoted)


def _own_quotes(state: BotState, prefix: str) -> dict[str, tuple[QuoteView, ...]]:
    quotes: dict[str, list[QuoteView]] = {}
    for order in state.resting:
        if order.client_order_id.startswith(prefix):
            quotes.setdefault(order.ticker, []).append(
                QuoteView(order.side.value, order.price, order.remaining))
    return {t: tuple(sorted(q, key=_quote_order)) for t, q in quotes.items()}


def _quote_order(quote: QuoteView) -> tuple[int, int]:
    """Bids first, best (highest) first; then asks, best (lowest) first."""
    return (0, -quote.price) if quote.side == "bid" else (1, quote.price)


def _markets(
    state: BotState, quotes: dict[str, tuple[QuoteView, ...]]
) -> tuple[MarketView, ...]:
    quotable = set(state.quotable_markets())
    held = {t for t, p in state.positions.items() if p.net and not p.settled}
    tickers = sorted(set(state.configs) | held | set(quotes))
    return tuple(_market(state, t, t in quotable, quotes.get(t, ())) for t in tickers)


def _market(
    state: BotState, ticker: str, quoting: bool, quotes: tuple[QuoteView, ...]
) -> MarketView:
    position = state.positions.get(ticker, PositionState(ticker))
    book = state.books.get(ticker)
    return MarketView(
        ticker=ticker, quoting=quoting,
        best_bid=book.best_bid if book else None, best_ask=book.best_ask if book else None,
        quotes=quotes, net=position.net, avg_entry=avg_entry_price(position),
        realized=position.realized_pnl,
        unrealized=unrealized_pnl(position, book) if book and position.net else 0,
        fees=position.fees_paid,
    )
