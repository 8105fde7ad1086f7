"""Between the loop and DynamoDB: load and save state, refresh configs, write the logs tables.

Operators may change ``risk_state`` (``dora halt`` / ``dora resume``) while the bot runs. State
writes are versioned, so such a change makes the bot's next write fail with StaleWriteError; the
bot then re-reads, keeps the operator's halt fields and its own numbers, and writes again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dora.errors import StaleWriteError
from dora.logs import EventType, bot_version, log_event
from dora.market_config import InvalidMarketConfig, parse_global_config, parse_market_config
from dora.models import Fill
from dora.quoting import QuoteOutcome
from dora.records import decision_record, decision_signature
from dora.state import BotState
from dora.store import Store
from dora.units import Micros


class Persister:
    def __init__(self, store: Store, logger: logging.Logger, run_id: str) -> None:
        self._store = store
        self._log = logger
        self._run_id = run_id
        self._invalid_reported: dict[str, str] = {}
        self._version = bot_version()

    def load_into(self, state: BotState) -> None:
        stored = self._store.load_state()
        state.positions = dict(stored.positions)
        state.risk = stored.risk
        state.seen_fills = dict(stored.recent_fills)
        log_event(self._log, EventType.STATE_LOAD, "state loaded", positions=len(state.positions),
                  daily_pnl_micros=state.risk.daily_pnl, halted=state.risk.trading_halted,
                  last_fill_ts_ms=state.risk.last_fill_ts_ms)

    def refresh_config(self, state: BotState) -> None:
        configs = {}
        for item in self._store.load_market_config_items():
            parsed = parse_market_config(item)
            configs[parsed.market_id] = parsed
            self._report_invalid(parsed)
        global_config, problems = parse_global_config(self._store.load_global_config_item())
        for problem in problems:
            log_event(self._log, EventType.CONFIG_REFRESH, f"global config: {problem}",
                      level=logging.WARNING)
        state.configs = configs
        state.global_config = global_config
        self._adopt_operator_halt(state)
        log_event(self._log, EventType.CONFIG_REFRESH, "configs refreshed", markets=len(configs),
                  enabled=len(state.quotable_markets()))

    def save_state(self, state: BotState) -> None:
        try:
            self._store.save_snapshot(state.positions, state.risk, state.seen_fills)
        except StaleWriteError:
            self._adopt_operator_halt(state)
            self._store.save_snapshot(state.positions, state.risk, state.seen_fills)
        self._store.save_open_orders(state.resting, state.decision_ids)
        if state.balance is not None:
            self._store.save_balance(state.balance)
        log_event(self._log, EventType.STATE_SAVE, "state saved", positions=len(state.positions))

    def after_cycle(
        self, state: BotState, cycle: int, fills: Sequence[tuple[Fill, Micros]],
        outcome: QuoteOutcome, decision_ids: Mapping[str, str], *, save: bool,
    ) -> None:
        if fills:
            self._store.record_fills(fills)
        self._write_decisions(state, outcome, decision_ids)
        if outcome.report.events:
            self._store.put_execution_events(
                [self._execution_item(e) for e in outcome.report.events]
            )
        if save or fills:
            self.save_state(state)

    def _write_decisions(
        self, state: BotState, outcome: QuoteOutcome, decision_ids: Mapping[str, str]
    ) -> None:
        records = []
        for ticker, decision in outcome.decisions.items():
            signature = decision_signature(decision)
            if state.decision_signatures.get(ticker) == signature:
                continue
            state.decision_signatures[ticker] = signature
            did = decision_ids.get(ticker, "")
            log_event(self._log, EventType.DECISION_MADE, "targets changed", market=ticker,
                      decision_id=did, reason=decision.reason, target_count=len(decision.targets))
            position = state.positions.get(ticker)
            records.append(decision_record(
                decision, self._run_id, did, state.trades.get(ticker, ()),
                position.net if position else 0, self._version,
            ))
        if records:
            self._store.put_decision_records(records)

    def _execution_item(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return {"bot_run_id": self._run_id, **event}

    def _adopt_operator_halt(self, state: BotState) -> None:
        stored = self._store.load_state().risk
        if (stored.trading_halted, stored.halt_reason) != (
            state.risk.trading_halted, state.risk.halt_reason
        ):
            log_event(self._log, EventType.FLAG, "halt flag changed in DynamoDB",
                      halted=stored.trading_halted, reason=stored.halt_reason)
            state.risk = replace(state.risk, trading_halted=stored.trading_halted,
                                 halt_reason=stored.halt_reason)

    def _report_invalid(self, parsed: object) -> None:
        if not isinstance(parsed, InvalidMarketConfig):
            return
        if self._invalid_reported.get(parsed.market_id) != parsed.reason:
            self._invalid_reported[parsed.market_id] = parsed.reason
            log_event(self._log, EventType.CONFIG_REFRESH, "market config invalid; market skipped",
                      level=logging.WARNING, market=parsed.market_id, reason=parsed.reason)
