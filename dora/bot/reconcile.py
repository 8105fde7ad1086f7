"""Reconcile dora's view from the exchange, the single source of truth.

Each ``sync_*`` fetches one kind of truth and folds it into :class:`BotState`; a cycle sends all
its reads together (:meth:`Reconciler.read_cycle`, :mod:`dora.bot.reads`) and folds the answers in
with the ``apply_*`` methods. A failed fetch raises (house rule 4): the cycle is abandoned and the
next one starts from a fresh reconcile.

The as-of time a listing is corrected with (docs/kalshi-notes.md#read-lag): the read-lag overlay
forgets dora's writes up to it, so it must be a moment the listing certainly reflects. A
``user_data_timestamp`` sent together with the listing may have been served after it, when the
exchange's reads had moved on, so its value can be later than what the listing shows. The one
that is safe is the newest timestamp whose answer arrived before the listing was sent: the
exchange's reads only move forward, so a listing served after that answer reflects at least
that much. Each cycle's own timestamp serves the next cycle. The cost: dora's own writes stay in
the overlay one cycle longer than the exchange strictly needs (the listing wins for every order
it shows; see :meth:`dora.core.overlay.Overlay.apply`).

With a :class:`ShardView` only the shard's markets count (orders, fills, positions), and of their
orders only those this process may act on (docs/architecture.md#shards).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from dora.bot.fencing import ShardView
from dora.bot.reads import TRADE_LOOKBACK_MS, CycleReads, ParallelReader, ReadPlan, read_together
from dora.bot.state import BotState
from dora.core.ledger import BalanceTime
from dora.core.models import (
    Balance,
    ExchangePosition,
    Fill,
    MarketRules,
    OrderBook,
    PositionState,
    RestingOrder,
    Settlement,
    TsMs,
)
from dora.core.overlay import Overlay
from dora.core.positions import apply_fills, apply_settlement, with_known_age
from dora.core.units import Micros, format_count, format_price
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event
from dora.store.store import OperatorItems


class ExchangeReader(ParallelReader, Protocol):
    def fetch_markets(
        self, tickers: Sequence[str] | None = None, status: str | None = None
    ) -> list[MarketRules]: ...


POLL_MIN_S, POLL_MAX_S = 0.05, 0.5  # between user_data_timestamp polls


class Reconciler:
    def __init__(
        self, reader: ExchangeReader, overlay: Overlay, logger: logging.Logger,
        *, fill_overlap_ms: int, view: ShardView | None = None,
    ) -> None:
        self._reader = reader
        self._overlay = overlay
        self._log = logger
        self._overlap_ms = fill_overlap_ms
        self._view = view or ShardView("dora-")
        # market -> (the exchange's position, dora's newest fill there) when a difference was
        # first seen: adopted only if the next read shows the same with no fill of dora's between
        self._suspected_drift: dict[str, tuple[int, TsMs]] = {}
        self._newest_fill_ms: dict[str, TsMs] = {}  # market -> dora's newest fill applied there
        self._answered_as_of: TsMs = 0  # the newest user_data_timestamp answered so far

    # -- a cycle's reads, together --------------------------------------------------------------
    def read_cycle(
        self, state: BotState, plan: ReadPlan,
        operator_items: Callable[[], OperatorItems] | None = None,
    ) -> CycleReads:
        """Send the timestamp, orders and fills reads and ``plan``'s together (and DynamoDB's
        ``operator_items`` read); fold them in with :meth:`apply_orders`, :meth:`apply_fills`
        and :meth:`apply_rest`, in that order."""
        since = max(0, state.risk.last_fill_ts_ms - self._overlap_ms)
        return read_together(self._reader, plan, fills_since_ms=since,
                             as_of_ms=self._safe_as_of(), operator_items=operator_items)

    def apply_orders(self, state: BotState, reads: CycleReads) -> None:
        timestamp = reads.timestamp.get()
        self._fold_orders(state, reads.orders.get(), reads.as_of_ms)
        self._answered(timestamp)

    def apply_fills(self, state: BotState, reads: CycleReads) -> list[tuple[Fill, Micros]]:
        return self._fold_fills(state, reads.fills.get())

    def apply_rest(self, state: BotState, reads: CycleReads) -> None:
        """The balance, positions, settlements, trades and books (any failure raised here)."""
        if reads.balance is not None:
            self._fold_balance(state, reads.balance.get())
        if reads.positions is not None:
            self._fold_positions(state, reads.positions.get())
        if reads.settlements is not None:
            self._fold_settlements(state, reads.settlements.get())
        if reads.trades:
            for ticker, trades in reads.trades.items():
                state.trades[ticker] = tuple(trades.get())
            state.last_sync_ms["trades"] = reads.plan.now_ms
        if reads.plan.books:
            books: dict[str, OrderBook] = {}
            for part in reads.books:
                books.update(part.get())
            self._fold_books(state, reads.plan.books, books)

    # -- one read at a time -----------------------------------------------------------------------
    def sync_orders(self, state: BotState) -> None:
        """Resting orders as the exchange lists them, corrected for its read lag (the listing and
        a new timestamp go out together; see the module docstring for the as-of time)."""
        as_of = self._safe_as_of()
        calls: list[Callable[[], Any]] = [self._reader.fetch_user_data_timestamp,
                                          self._reader.fetch_resting_orders]
        timestamp, listed = self._reader.run_together(calls)
        self._fold_orders(state, listed.get(), as_of)
        self._answered(timestamp.get())

    def _safe_as_of(self) -> TsMs:
        if not self._answered_as_of:  # nothing answered yet: one timestamp first
            self._answered(self._reader.fetch_user_data_timestamp())
        return self._answered_as_of

    def _answered(self, as_of: TsMs) -> None:
        self._answered_as_of = max(self._answered_as_of, as_of)

    def _own(self, state: BotState, orders: list[RestingOrder]) -> list[RestingOrder]:
        listed, state.blocked_markets = self._view.split(orders)
        return listed

    def _fold_orders(self, state: BotState, every: list[RestingOrder], as_of: TsMs) -> None:
        listed = self._own(state, every)
        state.as_of_ms = as_of
        state.resting = self._overlay.apply(listed, as_of)
        state.client_order_ids.update((o.order_id, o.client_order_id) for o in listed)
        state.last_sync_ms["orders"] = as_of

    def wait_until_current(self, past_ms: TsMs, clock: Clock, timeout_s: float) -> TsMs | None:
        """Poll ``GET /exchange/user_data_timestamp`` until the exchange's reads reflect every
        write up to ``past_ms`` (docs/kalshi-notes.md#read-lag); that as-of time, or None when
        ``timeout_s`` passes first."""
        give_up = clock.monotonic() + timeout_s
        while True:
            as_of = self._reader.fetch_user_data_timestamp()
            self._answered(as_of)
            if as_of >= past_ms:
                return as_of
            left = give_up - clock.monotonic()
            if left <= 0:
                return None
            behind_s = (past_ms - as_of) / 1000
            clock.sleep(min(left, max(POLL_MIN_S, min(behind_s, POLL_MAX_S))))

    def list_resting(self, state: BotState) -> list[RestingOrder]:
        """The exchange's resting orders as listed, uncorrected: for when its reads are known to
        be current past every write of dora's (see :meth:`wait_until_current`)."""
        state.resting = self._own(state, self._reader.fetch_resting_orders())
        return state.resting

    def sync_fills(self, state: BotState) -> list[tuple[Fill, Micros]]:
        """New fills since the stored cursor (overlapping window, deduped by fill_id)."""
        since = max(0, state.risk.last_fill_ts_ms - self._overlap_ms)
        return self._fold_fills(state, self._reader.fetch_fills(since_ms=since))

    def _fold_fills(self, state: BotState, every: list[Fill]) -> list[tuple[Fill, Micros]]:
        fills = [f for f in every if self._view.owns(f.ticker)]
        applied = apply_fills(state.positions, frozenset(state.seen_fills), fills)
        state.positions = dict(applied.positions)
        for fill, pnl in applied.applied:
            state.seen_fills[fill.fill_id] = fill.ts_ms
            newest = self._newest_fill_ms.get(fill.ticker, 0)
            self._newest_fill_ms[fill.ticker] = max(newest, fill.ts_ms)
            self._log_fill(fill, pnl, state)
        if applied.applied:
            newest = max(fill.ts_ms for fill, _ in applied.applied)
            state.risk = replace(
                state.risk,
                daily_pnl=state.risk.daily_pnl + applied.realized,
                last_fill_ts_ms=max(state.risk.last_fill_ts_ms, newest),
            )
            state.fills_total += len(applied.applied)
            state.unlogged_fills.extend(applied.applied)
        self._prune_seen(state)
        state.cash_ledger = state.cash_ledger.settle_fills(state.as_of_ms)
        state.last_sync_ms["fills"] = state.as_of_ms
        return list(applied.applied)

    def sync_books(self, state: BotState, tickers: Sequence[str]) -> None:
        if tickers:
            self._fold_books(state, tickers, self._reader.fetch_orderbooks(list(tickers)))

    @staticmethod
    def _fold_books(
        state: BotState, tickers: Sequence[str], fresh: dict[str, OrderBook]
    ) -> None:
        """A ticker the answer leaves out loses its old book: never quote off a stale one."""
        for ticker in tickers:
            state.books.pop(ticker, None)
        state.books.update(fresh)
        state.last_sync_ms["books"] = state.as_of_ms

    def sync_trades(self, state: BotState, tickers: Sequence[str], now_ms: TsMs) -> None:
        for ticker in tickers:
            trades = self._reader.fetch_trades(ticker, since_ms=now_ms - TRADE_LOOKBACK_MS)
            state.trades[ticker] = tuple(trades)
        state.last_sync_ms["trades"] = now_ms

    def sync_rules(self, state: BotState, tickers: Sequence[str]) -> None:
        if tickers:
            markets = self._reader.fetch_markets(tickers=list(tickers))
            state.rules.update({m.ticker: m for m in markets})

    def sync_balance(self, state: BotState) -> None:
        self._fold_balance(state, self._reader.fetch_balance())

    @staticmethod
    def _fold_balance(state: BotState, balance: Balance) -> None:
        """The balance, and the promised-cash ledger forgets what the balance now shows."""
        state.balance = balance
        state.cash_ledger = state.cash_ledger.settle(BalanceTime.of(balance, state.as_of_ms))
        state.last_sync_ms["balance"] = state.as_of_ms

    def sync_positions(self, state: BotState) -> None:
        self._fold_positions(state, self._reader.fetch_positions())

    def _fold_positions(self, state: BotState, positions: list[ExchangePosition]) -> None:
        """Compare with the exchange's positions; a difference seen twice in a row is adopted."""
        reported = {p.ticker: p for p in positions if self._view.owns(p.ticker)}
        tickers = set(reported) | {t for t, p in state.positions.items() if p.net and not p.settled}
        for ticker in sorted(tickers):
            ours = state.positions.get(ticker, PositionState(ticker))
            theirs = reported[ticker].position if ticker in reported else 0
            self._check_drift(state, ours, theirs, reported.get(ticker))
        state.positions = with_known_age(state.positions, state.as_of_ms)
        state.last_sync_ms["positions"] = state.as_of_ms

    def sync_settlements(self, state: BotState, since_ms: TsMs) -> Micros:
        return self._fold_settlements(state, self._reader.fetch_settlements(since_ms=since_ms))

    def _fold_settlements(self, state: BotState, settlements: list[Settlement]) -> Micros:
        realized: Micros = 0
        for settlement in settlements:
            position = state.positions.get(settlement.ticker)
            if position is None or position.settled:
                continue
            try:
                closed, delta = apply_settlement(position, settlement.result)
            except ValueError as exc:
                log_event(self._log, EventType.ERROR, f"settlement not applied: {exc}",
                          level=logging.ERROR, market=settlement.ticker, result=settlement.result)
                continue
            state.positions[settlement.ticker] = closed
            realized += delta
            log_event(self._log, EventType.FILL, "position settled", market=settlement.ticker,
                      result=settlement.result, pnl_delta=delta)
        if realized:
            state.risk = replace(state.risk, daily_pnl=state.risk.daily_pnl + realized)
        state.last_sync_ms["settlements"] = state.as_of_ms
        return realized

    def adopt_exchange_positions(self, state: BotState, now_ms: TsMs) -> None:
        """First start with no stored state: the exchange's positions are the opening book.
        The fills they already hold are never applied again: those of the overlap window up to
        each position's last change (the positions read may lag the fills read, so a later fill
        is applied as any new one; docs/kalshi-notes.md#read-lag); where the exchange gives no
        time, every fill of the window in a market it lists."""
        included: dict[str, TsMs] = {}
        for reported in self._reader.fetch_positions():
            if not self._view.owns(reported.ticker):
                continue
            state.positions[reported.ticker] = PositionState(
                reported.ticker, net=reported.position, open_cost=abs(reported.exposure),
                opened_ms=now_ms if reported.position else 0,
            )
            included[reported.ticker] = reported.updated_ms or now_ms
        since = max(0, now_ms - self._overlap_ms)
        for fill in self._reader.fetch_fills(since_ms=since):
            if fill.ts_ms <= included.get(fill.ticker, since - 1):
                state.seen_fills[fill.fill_id] = fill.ts_ms
        state.risk = replace(state.risk, last_fill_ts_ms=now_ms)  # the next read: from since

    def _check_drift(
        self, state: BotState, ours: PositionState, theirs: int,
        reported: ExchangePosition | None,
    ) -> None:
        ticker = ours.ticker
        newest_fill = self._newest_fill_ms.get(ticker, 0)
        if ours.net == theirs or (reported is not None and 0 < reported.updated_ms < newest_fill):
            self._suspected_drift.pop(ticker, None)  # equal, or the read predates dora's fills
            return
        if self._suspected_drift.get(ticker) != (theirs, newest_fill):
            self._suspected_drift[ticker] = (theirs, newest_fill)
            log_event(self._log, EventType.DRIFT, "position differs from the exchange",
                      level=logging.WARNING, drift="position", market=ticker,
                      before=format_count(ours.net), after=format_count(theirs),
                      action="watching: adopted if the next read agrees")
            return
        state.positions[ticker] = _adopted(ours, theirs, reported)
        self._suspected_drift.pop(ticker, None)
        state.drift_corrections += 1
        log_event(self._log, EventType.DRIFT, "position corrected to the exchange's",
                  level=logging.WARNING, drift="position", market=ticker,
                  before=format_count(ours.net), after=format_count(theirs),
                  action="adopted the exchange's position (seen twice in a row)")

    def _log_fill(self, fill: Fill, pnl: Micros, state: BotState) -> None:
        log_event(
            self._log, EventType.FILL, "fill", market=fill.ticker, fill_id=fill.fill_id,
            order_id=fill.order_id, side=fill.side.value, price=format_price(fill.price),
            size=format_count(fill.count), fee_micros=fill.fee, pnl_delta_micros=pnl,
            is_taker=fill.is_taker, decision_id=state.decision_ids.get(fill.order_id, ""),
            client_order_id=state.client_order_ids.get(fill.order_id, ""),
        )
        reason = state.close_orders.get(fill.order_id)
        if reason is not None:
            position = state.positions.get(fill.ticker, PositionState(fill.ticker))
            log_event(
                self._log, EventType.POSITION_CLOSE, "close filled", phase="filled",
                market=fill.ticker, reason=reason, order_id=fill.order_id, side=fill.side.value,
                price=format_price(fill.price), size=format_count(fill.count),
                fee_micros=fill.fee, realized_pnl_micros=pnl, is_taker=fill.is_taker,
                position_now=format_count(position.net),
            )

    def _prune_seen(self, state: BotState) -> None:
        horizon = state.risk.last_fill_ts_ms - 2 * self._overlap_ms
        state.seen_fills = {k: ts for k, ts in state.seen_fills.items() if ts >= horizon}


def _adopted(ours: PositionState, theirs: int, reported: ExchangePosition | None) -> PositionState:
    same_direction = ours.net and theirs and (ours.net > 0) == (theirs > 0)
    if same_direction:
        open_cost = ours.open_cost * abs(theirs) // abs(ours.net)
    else:
        open_cost = abs(reported.exposure) if reported else 0
    return replace(ours, net=theirs, open_cost=open_cost, settled=False)
