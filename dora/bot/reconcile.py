"""Reconcile dora's view from the exchange, the single source of truth.

Each ``sync_*`` fetches one kind of truth and folds it into :class:`BotState`. A failed fetch
raises (house rule 4): the cycle is abandoned and the next one starts from a fresh reconcile.
With a :class:`ShardView` only the shard's markets count (orders, fills, positions), and of their
orders only those this process may act on (docs/architecture.md#shards).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from dora.bot.fencing import ShardView
from dora.bot.state import BotState
from dora.core.ledger import BalanceTime
from dora.core.models import (
    Balance,
    ExchangePosition,
    Fill,
    MarketRules,
    OrderBook,
    PositionState,
    PublicTrade,
    RestingOrder,
    Settlement,
    TsMs,
)
from dora.core.overlay import Overlay
from dora.core.positions import apply_fills, apply_settlement, with_known_age
from dora.core.units import Micros, format_count, format_price
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event


class ExchangeReader(Protocol):
    def fetch_user_data_timestamp(self) -> TsMs: ...
    def fetch_resting_orders(self, ticker: str | None = None) -> list[RestingOrder]: ...
    def fetch_fills(
        self, since_ms: TsMs, until_ms: TsMs | None = None, ticker: str | None = None
    ) -> list[Fill]: ...
    def fetch_positions(self) -> list[ExchangePosition]: ...
    def fetch_balance(self) -> Balance: ...
    def fetch_markets(
        self, tickers: Sequence[str] | None = None, status: str | None = None
    ) -> list[MarketRules]: ...
    def fetch_orderbooks(self, tickers: Sequence[str]) -> dict[str, OrderBook]: ...
    def fetch_trades(
        self, ticker: str, since_ms: TsMs | None = None, limit: int = 100
    ) -> list[PublicTrade]: ...
    def fetch_settlements(self, since_ms: TsMs | None = None) -> list[Settlement]: ...


TRADE_LOOKBACK_MS = 24 * 3_600_000
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
        self._suspected_drift: dict[str, int] = {}

    def _listed(self, state: BotState) -> list[RestingOrder]:
        listed, state.blocked_markets = self._view.split(self._reader.fetch_resting_orders())
        return listed

    def sync_orders(self, state: BotState) -> None:
        """Resting orders as the exchange lists them, corrected for its read lag."""
        as_of = self._reader.fetch_user_data_timestamp()
        listed = self._listed(state)
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
        state.resting = self._listed(state)
        return state.resting

    def sync_fills(self, state: BotState) -> list[tuple[Fill, Micros]]:
        """New fills since the stored cursor (overlapping window, deduped by fill_id)."""
        since = max(0, state.risk.last_fill_ts_ms - self._overlap_ms)
        fills = [f for f in self._reader.fetch_fills(since_ms=since) if self._view.owns(f.ticker)]
        applied = apply_fills(state.positions, frozenset(state.seen_fills), fills)
        state.positions = dict(applied.positions)
        for fill, pnl in applied.applied:
            state.seen_fills[fill.fill_id] = fill.ts_ms
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
        """A ticker the answer leaves out loses its old book: never quote off a stale one."""
        if tickers:
            fresh = self._reader.fetch_orderbooks(list(tickers))
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
        """The balance, and the promised-cash ledger forgets what the balance now shows."""
        balance = state.balance = self._reader.fetch_balance()
        state.cash_ledger = state.cash_ledger.settle(BalanceTime.of(balance, state.as_of_ms))
        state.last_sync_ms["balance"] = state.as_of_ms

    def sync_positions(self, state: BotState) -> None:
        """Compare with the exchange's positions; a difference seen twice in a row is adopted."""
        reported = {p.ticker: p for p in self._reader.fetch_positions()
                    if self._view.owns(p.ticker)}
        tickers = set(reported) | {t for t, p in state.positions.items() if p.net and not p.settled}
        for ticker in sorted(tickers):
            ours = state.positions.get(ticker, PositionState(ticker))
            theirs = reported[ticker].position if ticker in reported else 0
            self._check_drift(state, ours, theirs, reported.get(ticker))
        state.positions = with_known_age(state.positions, state.as_of_ms)
        state.last_sync_ms["positions"] = state.as_of_ms

    def sync_settlements(self, state: BotState, since_ms: TsMs) -> Micros:
        realized: Micros = 0
        for settlement in self._reader.fetch_settlements(since_ms=since_ms):
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
        return realized

    def adopt_exchange_positions(self, state: BotState, now_ms: TsMs) -> None:
        """First start with no stored state: the exchange's positions are the opening book."""
        for reported in self._reader.fetch_positions():
            if not self._view.owns(reported.ticker):
                continue
            state.positions[reported.ticker] = PositionState(
                reported.ticker, net=reported.position, open_cost=abs(reported.exposure),
                opened_ms=now_ms if reported.position else 0,
            )
        # fills inside the overlap window are already in those positions: never apply them again
        for fill in self._reader.fetch_fills(since_ms=max(0, now_ms - self._overlap_ms)):
            state.seen_fills[fill.fill_id] = fill.ts_ms
        state.risk = replace(state.risk, last_fill_ts_ms=now_ms)

    def _check_drift(
        self, state: BotState, ours: PositionState, theirs: int,
        reported: ExchangePosition | None,
    ) -> None:
        ticker = ours.ticker
        if ours.net == theirs:
            self._suspected_drift.pop(ticker, None)
            return
        log_event(self._log, EventType.DRIFT, "position differs from the exchange",
                  level=logging.WARNING, market=ticker, ours=format_count(ours.net),
                  exchange=format_count(theirs))
        if self._suspected_drift.get(ticker) != theirs:
            self._suspected_drift[ticker] = theirs
            return
        state.positions[ticker] = _adopted(ours, theirs, reported)
        self._suspected_drift.pop(ticker, None)

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
