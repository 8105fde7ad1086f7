"""Position closing in the loop: runs the pure exit policy for each market dora holds a position
in, remembers each passive close's walk between cycles, and reports every intent and outcome as a
``POSITION_CLOSE`` event (the decision record carries the intent too, see persistence).

Outcomes: ``placed`` / ``rejected`` (the exchange's answer), ``blocked`` (a risk check),
``filled`` (from the fills, with the realized P&L; :mod:`dora.bot.reconcile`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from dora.bot.state import BotState
from dora.core.exit_policy import (
    CloseIntent,
    CloseWalk,
    ExitInputs,
    ExitSettings,
    compute_exit,
    exit_settings,
    exit_valid_until,
    low_cash_sizes,
)
from dora.core.ledger import resting_collateral
from dora.core.market_config import MarketConfig
from dora.core.models import MarketRules, OrderBook, PositionState, TsMs
from dora.core.resting_index import RestingIndex
from dora.core.reuse import ReuseCache
from dora.core.risk import Rejection
from dora.core.units import Count, format_count, format_price
from dora.runtime.logs import EventType, log_event

MAX_CLOSE_ORDERS = 10_000  # remembered close order ids (for their fills); oldest forgotten first


class Closer:
    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._announced: dict[str, tuple[object, ...]] = {}
        self._intents: ReuseCache[CloseIntent | None] = ReuseCache()
        self._settings: ReuseCache[ExitSettings] = ReuseCache()  # by (market config, global)

    def low_cash(self, state: BotState, index: RestingIndex,
                 book_of: Callable[[str], OrderBook]) -> dict[str, Count]:
        """Which positions to shrink, and by how much, to bring free cash (counting what dora's
        own resting orders hold, which dora can free at will) back to ``min_cash_reserve``.
        ``book_of``: a market's book without dora's own orders."""
        reserve = state.global_config.min_cash_reserve
        view = state.cash_view()
        if reserve <= 0 or view is None:
            return {}
        own = [o for t in index.tickers() for o in index.market(t).own()]
        held = resting_collateral(state.positions, own)
        candidates = [
            (state.positions[t], book_of(t), state.rules[t].fractional_trading)
            for t in state.exit_markets() if t in state.books and self._may_close(state, t)
        ]
        return low_cash_sizes(candidates, view.free + held, reserve)

    def forget_all_but(self, state: BotState, tickers: Collection[str]) -> None:
        """Markets the cycle does not look at (no position, not quoted) have no close."""
        for ticker in [t for t in state.close_walks if t not in tickers]:
            del state.close_walks[ticker]
        for ticker in [t for t in self._announced if t not in tickers]:
            self._announce(ticker, None, "")
        self._intents.retain(tickers)
        self._settings.retain(tickers)

    def intent(self, state: BotState, ticker: str, book: OrderBook, now_ms: TsMs,
               low_cash_size: Count, decision_id: str, maybe_closed: Count) -> CloseIntent | None:
        """The exit policy's intent for the market (``book``: without dora's own orders;
        ``maybe_closed``: the ledger's count there). Last cycle's answer is reused while its
        inputs are the same and the time allows (:func:`exit_valid_until`)."""
        position = state.positions.get(ticker)
        rules = state.rules.get(ticker)
        intent = None
        if rules is not None and position is not None and position.net and ticker in state.books:
            config = state.configs.get(ticker)
            walk = state.close_walks.get(ticker)
            key = (rules, book, position, config, state.global_config, walk, low_cash_size,
                   maybe_closed)
            reused = self._intents.get(ticker, key, now_ms)
            if reused is not None:
                intent = reused.value
            else:
                inputs = self._exit_inputs(state, rules, book, position, now_ms, walk,
                                           low_cash_size, maybe_closed)
                intent = compute_exit(inputs)
                self._intents.put(ticker, key, intent, now_ms, exit_valid_until(inputs, intent))
        walk_now = intent.walk if intent is not None else None
        if walk_now is None:
            if state.close_walks:
                state.close_walks.pop(ticker, None)
        else:
            state.close_walks[ticker] = walk_now
        if intent is not None or ticker in self._announced:
            self._announce(ticker, intent, decision_id)
        return intent

    def _exit_inputs(
        self, state: BotState, rules: MarketRules, book: OrderBook, position: PositionState,
        now_ms: TsMs, walk: CloseWalk | None, low_cash_size: Count, maybe_closed: Count,
    ) -> ExitInputs:
        config = self._config(state, rules.ticker)
        key = (config, state.global_config)
        known = self._settings.get(rules.ticker, key, 0)
        settings = known.value if known is not None else self._settings.put(
            rules.ticker, key, exit_settings(config, state.global_config), 0, None)
        return ExitInputs(
            rules, book, position, settings,
            managed=config is not None and config.enabled,
            fair_value=config.fair_value if config is not None else None,
            now_ms=now_ms, walk=walk, low_cash_size=low_cash_size, maybe_closed=maybe_closed,
        )

    def after_execution(
        self, state: BotState, closes: Mapping[str, CloseIntent],
        events: Sequence[Mapping[str, Any]], rejections: Sequence[Rejection],
    ) -> None:
        """Remember which orders are closes (for their fills) and report each outcome."""
        for event in events:
            ticker = str(event.get("market", ""))
            if event.get("event_type") != "ORDER_RESULT" or ticker not in closes:
                continue
            intent = closes[ticker]
            if event.get("status") == "ACCEPTED" and event.get("order_id"):
                state.close_orders[str(event["order_id"])] = intent.reason
            self._outcome(intent, str(event.get("status", "")).lower(), event)
        for rejection in rejections:
            if rejection.request.ticker in closes:
                self._outcome(closes[rejection.request.ticker], "blocked",
                              {"client_order_id": rejection.request.client_order_id,
                               "error_msg": rejection.reason})
        if len(state.close_orders) > MAX_CLOSE_ORDERS:
            for order_id in list(state.close_orders)[:len(state.close_orders) // 2]:
                del state.close_orders[order_id]

    def _outcome(self, intent: CloseIntent, status: str, event: Mapping[str, Any]) -> None:
        fields = {k: event[k] for k in ("order_id", "client_order_id", "error_code", "error_msg",
                                        "decision_id") if event.get(k)}
        log_event(self._log, EventType.POSITION_CLOSE, f"close order {status}",
                  level=logging.INFO if status == "accepted" else logging.WARNING,
                  phase="placed" if status == "accepted" else status, market=intent.ticker,
                  reason=intent.reason, side=intent.side.value, size=format_count(intent.size),
                  price=format_price(intent.price) if intent.price is not None else None,
                  immediate=intent.immediate, **fields)

    def _announce(self, ticker: str, intent: CloseIntent | None, decision_id: str) -> None:
        """One POSITION_CLOSE event per new or changed intent, and one when it ends."""
        signature = () if intent is None else (
            intent.reason, intent.side, intent.size, intent.price, intent.immediate)
        if self._announced.get(ticker, ()) == signature:
            return
        if intent is None:
            self._announced.pop(ticker, None)
            log_event(self._log, EventType.POSITION_CLOSE, "close intent ended", phase="ended",
                      market=ticker, decision_id=decision_id)
            return
        self._announced[ticker] = signature
        log_event(
            self._log, EventType.POSITION_CLOSE, "close intent", phase="intent", market=ticker,
            decision_id=decision_id, reason=intent.reason, reasons=list(intent.reasons),
            side=intent.side.value, size=format_count(intent.size),
            price=format_price(intent.price) if intent.price is not None else None,
            immediate=intent.immediate, unrealized_micros=intent.unrealized,
            reference=format_price(intent.reference) if intent.reference is not None else None,
            detail=intent.detail,
        )

    def _config(self, state: BotState, ticker: str) -> MarketConfig | None:
        config = state.configs.get(ticker)
        return config if isinstance(config, MarketConfig) else None

    def _may_close(self, state: BotState, ticker: str) -> bool:
        config = self._config(state, ticker)
        return (config is not None and config.enabled) or exit_settings(
            config, state.global_config).close_on_disable
