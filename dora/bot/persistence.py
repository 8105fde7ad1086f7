"""Between the loop and DynamoDB: load and save state, refresh configs, write the logs tables.

Operators may change ``risk_state`` (``dora halt`` / ``dora resume``) while the bot runs. State
writes are versioned, so such a change makes the bot's next write fail with StaleWriteError; the
bot then re-reads risk_state alone, keeps the operator's halt fields and its own numbers, and
writes again. Positions and recent fills are the bot's alone: a conflict there means a second
writer, and the bot stops rather than overwrite it.

Invariant (kept by :meth:`Persister.save_state`): a saved snapshot never counts a fill whose
trade-log row is not durable. The positions, risk state and ``recent_fills`` of a snapshot all
include every fill applied so far, and a fill in ``recent_fills`` is never applied again; so every
applied fill's row is written (idempotently) before the snapshot. A crash between the two leaves
rows for fills the stored state does not know yet: the restart applies those fills again and their
rows are skipped as already there. Nothing is lost and nothing is counted twice.

The other log tables (execution events, decision records) are not on the loop's critical path:
their items are built here and written by a background writer (:mod:`dora.store.logwriter`),
flushed on a halt and at the stop. Execution events become one row per batch request (the
request's orders inside it), or one per order when the global ``execution_log_per_order`` asks
(docs/compatibility.md#execution-log). Trade-log rows and state items stay synchronous.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from dora.bot.execute import BATCH_KEY
from dora.bot.quoting import QuoteOutcome
from dora.bot.state import BotState
from dora.core.breaker import Breaker, operator_resets
from dora.core.errors import ConcurrentWriterError, StaleWriteError
from dora.core.market_config import InvalidMarketConfig, parse_global_config, parse_market_config
from dora.core.models import Fill, RestingOrder, RiskState
from dora.core.positions import unrealized_pnl
from dora.core.records import decision_record, decision_signature
from dora.core.risk import worst_case_exposure
from dora.core.shards import ShardId
from dora.core.units import Micros, format_count, format_price, micros_to_decimal
from dora.runtime.deadline import TimeLeft
from dora.runtime.logs import EventType, bot_version, log_event
from dora.store.lease import LeaseStore
from dora.store.logwriter import BackgroundLogWriter, LogWriterStats
from dora.store.store import ApiErrorRecord, OperatorItems, ShardFigures, Store
from dora.store.tables import DECISION_LOG, EXECUTION_LOG
from dora.store.versioned import Fence

# A row per batch request: these event types for the events of its orders
BATCH_EVENT_TYPES = {"ORDER_CANCEL": "BATCH_CANCEL", "ORDER_RESULT": "BATCH_PLACE"}
# Fields every order of a batch request shares: said once, in the batch's row
_BATCH_SHARED = frozenset({"event_type", "latency_ms", BATCH_KEY})


class Persister:
    def __init__(
        self, store: Store, logger: logging.Logger, run_id: str, *,
        logs: BackgroundLogWriter | None = None,
    ) -> None:
        self._store = store
        self._log = logger
        self._run_id = run_id
        self._invalid_reported: dict[str, str] = {}
        self._version = bot_version()
        self._api_errors: dict[str, ApiErrorRecord] = {}
        self._logs = logs or BackgroundLogWriter(store.write_log_batch, logger)
        self._saved_breakers: dict[str, Breaker] = {}
        self._global_problems: list[str] = []
        self._saved_open_orders: OpenOrdersShape | None = None  # what the item last got

    @property
    def leases(self) -> LeaseStore:
        return self._store.leases

    def use_shard(self, shard: ShardId, fence: Fence | None) -> None:
        """This shard's state items from now on, every write fenced by its lease."""
        self._store.use_shard(shard)
        self._store.fence_with(fence)
        self._saved_open_orders = None  # another holder may have written it since

    def refresh_shared(self, state: BotState, peers: Sequence[ShardId]) -> None:
        """With several shards: the operator's halt of all of them, and the other shards'
        exposure and today's P&L for the account-wide limits (docs/architecture.md#shards)."""
        if not peers:
            return
        operator = self._store.load_operator_halt()
        state.operator_halt = (operator.halt_reason or "manual") if operator.trading_halted \
            else ""
        figures = self._store.load_peer_figures(peers).values()
        state.elsewhere_exposure = sum(f.exposure for f in figures)
        state.elsewhere_pnl = sum(f.daily_pnl + f.unrealized for f in figures
                                  if f.day == state.risk.day)

    def load_into(self, state: BotState) -> None:
        stored = self._store.load_state()
        state.positions = dict(stored.positions)
        state.risk = stored.risk
        state.seen_fills = dict(stored.recent_fills)
        state.breakers = dict(stored.breakers)
        self._saved_breakers = dict(stored.breakers)
        self._api_errors = dict(stored.api_errors)
        state.loaded = True
        log_event(self._log, EventType.STATE_LOAD, "state loaded", positions=len(state.positions),
                  daily_pnl_micros=state.risk.daily_pnl, halted=state.risk.trading_halted,
                  last_fill_ts_ms=state.risk.last_fill_ts_ms)

    def refresh_config(self, state: BotState) -> None:
        configs = {}
        for item in self._store.load_market_config_items():
            parsed = parse_market_config(item)
            configs[parsed.market_id] = parsed
            self._report_invalid(parsed)
        self._global_problems = []  # a full refresh reports every problem again
        self._adopt_global_config(state, self._store.load_global_config_item())
        state.configs = configs
        self._adopt_operator_halt(state)
        log_event(self._log, EventType.CONFIG_REFRESH, "configs refreshed", markets=len(configs),
                  enabled=len(state.quotable_markets()))

    def refresh_operator_items(self, state: BotState) -> dict[str, Breaker] | None:
        """Once a cycle, in one read: an operator's halt or resume, the global flags
        (``trading_enabled`` and the rest), and breaker resets. Returns the stored breakers when
        someone else changed them (the lifecycle adopts the resets)."""
        return self.adopt_operator_items(state, self.read_operator_items())

    def read_operator_items(self) -> OperatorItems:
        """The read of :meth:`refresh_operator_items` alone (it changes nothing of the bot's),
        so that it can go out together with the cycle's exchange reads."""
        return self._store.reload_operator_items()

    def adopt_operator_items(
        self, state: BotState, items: OperatorItems
    ) -> dict[str, Breaker] | None:
        if items.risk is not None:
            self._adopt_risk(state, items.risk)
        self._adopt_global_config(state, items.global_config)
        return items.breakers

    def _adopt_global_config(self, state: BotState, item: Mapping[str, Any] | None) -> None:
        global_config, problems = parse_global_config(item)
        if problems != self._global_problems:
            for problem in problems:
                log_event(self._log, EventType.CONFIG_REFRESH, f"global config: {problem}",
                          level=logging.WARNING)
            self._global_problems = problems
        state.global_config = global_config

    def bound_by(self, budget: TimeLeft | None) -> None:
        """Fit every later DynamoDB call into ``budget`` (a stop budget)."""
        self._store.bound_by(budget)

    def flush_logs(self, timeout_s: float | None) -> bool:
        """Wait (at most ``timeout_s``) until the log-table rows queued so far are written."""
        return self._logs.flush(timeout_s)

    def close_logs(self, timeout_s: float | None) -> int:
        """Flush for at most ``timeout_s`` and stop the log writer; the rows left unwritten."""
        return self._logs.close(timeout_s)

    def log_stats(self) -> LogWriterStats:
        return self._logs.stats()

    def take_store_wait_ms(self) -> int:
        """How long the loop waited for DynamoDB since it last asked."""
        return self._store.take_wait_ms()

    def save_state(self, state: BotState) -> None:
        """Trade-log rows of every applied fill first, then the snapshot (the invariant above).
        A state never loaded from the store (a take-over that failed before it read the
        shard's state) is not saved: it would write empty positions and risk state, an
        operator's halt included, over the stored ones."""
        if not self._refuse_unloaded(state, "state"):
            return
        self.write_unlogged_fills(state)
        try:
            self._store.save_snapshot(state.positions, state.risk, state.seen_fills,
                                      shard_figures(state))
        except StaleWriteError:
            self._adopt_operator_halt(state)
            self._save_snapshot_after_conflict(state)
        self._save_open_orders(state)
        if state.balance is not None:
            self._store.save_balance(state.balance, state.cash_view())
        self.save_calibration(state)
        log_event(self._log, EventType.STATE_SAVE, "state saved", positions=len(state.positions))

    def _save_open_orders(self, state: BotState) -> None:
        """The display item of the resting orders, only when they changed since this holder last
        wrote it: at 1,000 markets it is thousands of entries over several pages, and most
        saves find it as it was. Its ``last_updated`` is when it last changed."""
        shape = open_orders_shape(state.resting, state.decision_ids)
        if shape == self._saved_open_orders:
            return
        self._saved_open_orders = None  # unknown until this write has landed
        left_out = self._store.save_open_orders(state.resting, state.decision_ids)
        self._saved_open_orders = shape
        if left_out:
            log_event(self._log, EventType.STATE_SAVE, "open_orders item full: orders left out",
                      level=logging.WARNING, left_out=left_out, resting=len(state.resting))

    def save_calibration(self, state: BotState) -> None:
        """The calibration report, the session's start and cash, and the last sync times."""
        self._store.save_calibration(state.calibration, state.session, state.session_cash,
                                     state.last_sync_ms)

    def after_cycle(
        self, state: BotState, now_ms: int, outcome: QuoteOutcome,
        decision_ids: Mapping[str, str], *, save: bool,
    ) -> None:
        fills = list(state.unlogged_fills)
        _remember_decision_ids(state, outcome.report.events)
        self.write_unlogged_fills(state)
        self._write_decisions(state, outcome, decision_ids)
        rows = execution_rows(outcome.report.events,
                              per_order=state.global_config.execution_log_per_order)
        self._submit_execution_rows(rows)
        counted = self._count_api_errors(outcome.report.events, now_ms)
        if counted or state.breakers != self._saved_breakers:
            self.save_api_errors(state)
        if save or fills:
            self.save_state(state)

    def _refuse_unloaded(self, state: BotState, what: str) -> bool:
        """True when ``state`` may be saved; else logs why not."""
        if state.loaded:
            return True
        log_event(self._log, EventType.ERROR, f"{what} not saved: never loaded since this "
                  "lease was taken", level=logging.WARNING)
        return False

    def save_api_errors(self, state: BotState) -> None:
        """Error counters and breakers. An operator's reset written since the bot last read the
        item makes the write stale: the reset is adopted and the write made again."""
        if not self._refuse_unloaded(state, "api_errors"):
            return
        try:
            self._store.save_api_errors(self._api_errors, state.breakers)
        except StaleWriteError:
            stored = self._store.reload_operator_items().breakers or {}
            for ticker, breaker in operator_resets(state.breakers, stored).items():
                state.breakers[ticker] = breaker
                log_event(self._log, EventType.BREAKER, "breaker closed by an operator",
                          market=ticker, state=breaker.state.value)
            self._store.save_api_errors(self._api_errors, state.breakers)
        self._saved_breakers = dict(state.breakers)

    def write_unlogged_fills(self, state: BotState) -> None:
        """Trade-log rows (idempotent per fill) and FILL events of every applied fill not logged
        yet, including fills applied in an earlier cycle that failed before it could log them."""
        fills = list(state.unlogged_fills)
        if not fills:
            return
        self._store.record_fills(fills)
        del state.unlogged_fills[:len(fills)]
        self._submit_execution_rows([_fill_event(f, pnl, state) for f, pnl in fills])

    def record_special(self, reason: str, state: BotState, now_ms: int) -> None:
        """The predecessor's market_id=ALL decision records: startup, halt and fatal cancels."""
        self._submit_decisions([{
            "market_id": "ALL", "reason": reason, "bot_run_id": self._run_id,
            "decision_id": f"{self._run_id}:{reason}:{now_ms}", "bot_version": self._version,
            "halt_reason": state.risk.halt_reason,
            "daily_pnl": micros_to_decimal(state.risk.daily_pnl),
            "open_orders_count": len(state.resting),
        }])

    def _count_api_errors(self, events: Sequence[Mapping[str, Any]], now_ms: int) -> bool:
        changed = False
        for event in events:
            code = event.get("error_code")
            if not code:
                continue
            market = str(event.get("market", "exchange"))
            previous = self._api_errors.get(market)
            self._api_errors[market] = ApiErrorRecord(
                count=(previous.count if previous else 0) + 1, last_error_ms=now_ms,
                last_error_code=str(code), last_error_msg=str(event.get("error_msg", "")),
            )
            changed = True
        return changed

    def _write_decisions(
        self, state: BotState, outcome: QuoteOutcome, decision_ids: Mapping[str, str]
    ) -> None:
        records = []
        for ticker, decision in outcome.decisions.items():
            close = outcome.closes.get(ticker)
            signature = decision_signature(decision, close)
            if state.decision_signatures.get(ticker) == signature:
                continue
            state.decision_signatures[ticker] = signature
            did = decision_ids.get(ticker, "")
            log_event(self._log, EventType.DECISION_MADE, "targets changed", market=ticker,
                      decision_id=did, reason=decision.reason, target_count=len(decision.targets))
            position = state.positions.get(ticker)
            records.append(decision_record(
                decision, self._run_id, did, state.books.get(ticker), state.trades.get(ticker, ()),
                position.net if position else 0, self._version,
                close=close, strategy=outcome.strategies.get(ticker, ""),
            ))
        self._submit_decisions(records)
        _forget_old_signatures(state, outcome.decisions.keys())

    def _submit_decisions(self, records: Sequence[Mapping[str, Any]]) -> None:
        if records:
            self._logs.submit(DECISION_LOG, self._store.decision_items(records))

    def _submit_execution_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            own = [{"bot_run_id": self._run_id, "bot_version": self._version, **row}
                   for row in rows]
            self._logs.submit(EXECUTION_LOG, self._store.execution_items(own))

    def _save_snapshot_after_conflict(self, state: BotState) -> None:
        """After adopting an operator's risk_state change, a second conflict can only come from
        positions or recent fills, which only a dora bot writes."""
        try:
            self._store.save_snapshot(state.positions, state.risk, state.seen_fills,
                                      shard_figures(state))
        except StaleWriteError as exc:
            raise ConcurrentWriterError(
                f"another writer saved dora's positions or fills ({exc}); is a second dora "
                f"running against this account and table suffix?"
            ) from exc

    def _adopt_operator_halt(self, state: BotState) -> None:
        stored = self._store.reload_risk_state()
        if stored is not None:
            self._adopt_risk(state, stored)

    def _adopt_risk(self, state: BotState, stored: RiskState) -> None:
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


OpenOrdersShape = tuple[tuple[RestingOrder, str], ...]


def open_orders_shape(
    orders: Sequence[RestingOrder], decision_ids: Mapping[str, str]
) -> OpenOrdersShape:
    """Everything the open_orders item shows of the resting orders (their decision ids too)."""
    return tuple((o, decision_ids.get(o.order_id) or decision_ids.get(o.ticker, ""))
                 for o in orders)


def shard_figures(state: BotState) -> ShardFigures:
    """This process's exposure and unrealized P&L, saved for the other shards' limits."""
    unrealized = sum(unrealized_pnl(p, state.books[t]) for t, p in state.positions.items()
                     if t in state.books and p.net)
    return ShardFigures(exposure=worst_case_exposure(state.positions, state.resting),
                        unrealized=unrealized)


def _fill_event(fill: Fill, pnl: Micros, state: BotState) -> dict[str, Any]:
    return {
        "event_type": "FILL", "status": "FILLED", "market": fill.ticker,
        "order_id": fill.order_id, "fill_id": fill.fill_id, "side": fill.side.value,
        "price": format_price(fill.price), "size": format_count(fill.count),
        "fees": micros_to_decimal(fill.fee), "pnl_delta": micros_to_decimal(pnl),
        "decision_id": state.decision_ids.get(fill.order_id, ""),
        "client_order_id": state.client_order_ids.get(fill.order_id, ""),
    }


def execution_rows(
    events: Sequence[Mapping[str, Any]], *, per_order: bool
) -> list[dict[str, Any]]:
    """The execution-log rows of a cycle's events: one per batch request (its orders in
    ``orders``, its statuses counted in ``statuses``) and one per single-order request; with
    ``per_order`` one per order, as the earlier bot wrote them."""
    rows: list[dict[str, Any]] = []
    batches: dict[str, dict[str, Any]] = {}
    for event in events:
        batch = event.get(BATCH_KEY)
        if per_order or batch is None:
            rows.append({k: v for k, v in event.items() if k != BATCH_KEY})
            continue
        row = batches.get(str(batch))
        if row is None:
            event_type = str(event.get("event_type", ""))
            row = batches[str(batch)] = {
                "event_type": BATCH_EVENT_TYPES.get(event_type, event_type),
                "latency_ms": event.get("latency_ms", 0), "count": 0, "statuses": {},
                "orders": [],
            }
            rows.append(row)
        row["count"] += 1
        status = str(event.get("status", ""))
        row["statuses"][status] = row["statuses"].get(status, 0) + 1
        row["orders"].append({k: v for k, v in event.items() if k not in _BATCH_SHARED})
    return rows
def _forget_old_signatures(state: BotState, decided: Collection[str]) -> None:
    """Markets come and go (they settle, new ones list): keep the last decision's signature only
    of markets still decided, once the map is well past their number. A forgotten one costs at
    most one repeated decision record."""
    if len(state.decision_signatures) > 2 * max(len(decided), 256):
        state.decision_signatures = {t: sig for t, sig in state.decision_signatures.items()
                                     if t in decided}


def _remember_decision_ids(state: BotState, events: Sequence[Mapping[str, Any]]) -> None:
    """order id -> the decision that placed it and its client order id, for fills and the
    open_orders item."""
    for event in events:
        if event.get("status") == "ACCEPTED" and event.get("order_id"):
            order_id = str(event["order_id"])
            state.decision_ids[order_id] = str(event.get("decision_id", ""))
            state.client_order_ids[order_id] = str(event.get("client_order_id", ""))
    resting = {o.order_id for o in state.resting}
    limit = 4 * max(len(resting), 256)
    if len(state.decision_ids) > limit:
        state.decision_ids = {k: v for k, v in state.decision_ids.items() if k in resting}
    if len(state.client_order_ids) > limit:
        state.client_order_ids = {k: v for k, v in state.client_order_ids.items() if k in resting}
