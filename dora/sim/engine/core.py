"""Engine state shared by the matching, order-operation and read layers.

Everything here is single-threaded and deterministic: ids come from counters salted by the seed,
and every collection that is iterated is insertion-ordered (no sets of strings).
"""

from __future__ import annotations

import hashlib
import heapq
import uuid
from collections import deque

from dora.core.models import OrderStatus, TsMs
from dora.core.units import Micros
from dora.runtime.clock import Clock
from dora.sim.engine.groups import OrderGroup
from dora.sim.engine.history import Timeline
from dora.sim.engine.ledger import Account
from dora.sim.engine.markets import MarketState
from dora.sim.engine.orders import LiveOrder
from dora.sim.engine.records import EngineError, SimPosition, SimTrade

HISTORY_MS = 15 * 60_000  # order versions, closed orders and balance/position timelines
TAPE_RETENTION_MS = 2 * 3_600_000  # fills and public trades

ID_ORDER, ID_FILL, ID_TRADE, ID_GROUP = 1, 2, 3, 4
EVENT_OPEN, EVENT_EXPIRE, EVENT_CLOSE, EVENT_FLOW = 0, 1, 2, 3

Event = tuple[TsMs, int, int, int, str]  # (due, kind, rank, sub-kind, key): totally ordered

COUNTER_NAMES = (
    "orders_created", "orders_canceled", "orders_executed", "orders_rejected", "fills", "trades",
    "matches", "contracts_matched", "expirations", "group_triggers", "flow_orders",
    "flow_events", "events_processed", "settlements",
)


def _salt(seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"dora-sim-ids:{seed}".encode()).digest()[:6], "big")


class CoreState:
    def __init__(self, clock: Clock, seed: int, *, history_ms: int, tape_retention_ms: int) -> None:
        self.clock = clock
        self.seed = seed
        self.history_ms = history_ms
        self.tape_retention_ms = tape_retention_ms
        self._id_salt = _salt(seed)
        self._id_counts = [0, 0, 0, 0, 0]
        self._order_seq = 0
        self.market_by_ticker: dict[str, MarketState] = {}
        self.accounts: dict[str, Account] = {}
        self.order_by_id: dict[str, LiveOrder] = {}
        self.order_groups: dict[str, OrderGroup] = {}
        self.finished: deque[tuple[TsMs, str]] = deque()
        self.tape: deque[SimTrade] = deque()
        self.fees_collected: Micros = 0
        self.trading_active_flag = True
        self.counts: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self.events: list[Event] = []
        self._dirty_orders: dict[str, LiveOrder] = {}
        self._dirty_positions: dict[tuple[str, str], None] = {}
        self._dirty_accounts: dict[str, None] = {}

    # ids ---------------------------------------------------------------------------------
    def new_id(self, kind: int) -> str:
        self._id_counts[kind] += 1
        return str(uuid.UUID(int=(self._id_salt << 80) | (kind << 64) | self._id_counts[kind]))

    def next_order_seq(self) -> int:
        self._order_seq += 1
        return self._order_seq

    # lookups -----------------------------------------------------------------------------
    def account(self, user_id: str, *, keeps_history: bool = True) -> Account:
        account = self.accounts.get(user_id)
        if account is None:
            account = self.accounts[user_id] = Account(user_id, 0, keeps_history=keeps_history)
            self._dirty_accounts[user_id] = None
        return account

    def market_state(self, ticker: str) -> MarketState:
        market = self.market_by_ticker.get(ticker)
        if market is None:
            raise EngineError(404, "market_not_found", f"market {ticker} not found")
        return market

    def user_order(self, user_id: str, order_id: str) -> LiveOrder:
        order = self.order_by_id.get(order_id)
        if order is None or order.user_id != user_id:
            raise EngineError(404, "not_found", f"order {order_id} not found")
        return order

    def user_group(self, user_id: str, group_id: str) -> OrderGroup:
        group = self.order_groups.get(group_id)
        if group is None or group.user_id != user_id:
            raise EngineError(404, "not_found", f"order group {group_id} not found")
        return group

    def schedule(self, event: Event) -> None:
        heapq.heappush(self.events, event)

    # change tracking -----------------------------------------------------------------------
    def touch_order(self, order: LiveOrder) -> None:
        if self.accounts[order.user_id].keeps_history:
            self._dirty_orders[order.order_id] = order

    def touch_position(self, user_id: str, ticker: str) -> None:
        self._dirty_positions[(user_id, ticker)] = None
        self._dirty_accounts[user_id] = None

    def touch_account(self, user_id: str) -> None:
        self._dirty_accounts[user_id] = None

    def flush(self, now_ms: TsMs) -> None:
        """Write the snapshots of everything changed since the last flush into the history."""
        for order in self._dirty_orders.values():
            order.record_version()
        for user_id, ticker in self._dirty_positions:
            account = self.accounts[user_id]
            pos = account.positions.get(ticker)
            timeline = account.position_history.setdefault(ticker, _new_timeline())
            timeline.record(now_ms, pos.snapshot(ticker) if pos else None)
        for user_id in self._dirty_accounts:
            account = self.accounts[user_id]
            account.balance_history.record(now_ms, account.balance_snapshot(now_ms))
        self._dirty_orders.clear()
        self._dirty_positions.clear()
        self._dirty_accounts.clear()

    # book membership ---------------------------------------------------------------------
    def is_in_book(self, order: LiveOrder) -> bool:
        resting = self.accounts[order.user_id].resting.get(order.ticker)
        return resting is not None and order.order_id in resting

    def rest(self, order: LiveOrder) -> None:
        market = self.market_by_ticker[order.ticker]
        account = self.accounts[order.user_id]
        market.book.add(order)
        account.resting.setdefault(order.ticker, {})[order.order_id] = order
        if order.client_order_id:
            account.client_ids[order.client_order_id] = order.order_id
        if order.order_group_id:
            self.order_groups[order.order_group_id].order_ids[order.order_id] = None
        if order.expiration_s is not None:
            self.schedule((order.expiration_s * 1000, EVENT_EXPIRE, order.seq, 0, order.order_id))
        account.refresh_held(order.ticker)
        self.touch_account(order.user_id)

    def unrest(self, order: LiveOrder) -> None:
        market = self.market_by_ticker[order.ticker]
        account = self.accounts[order.user_id]
        market.book.remove(order)
        del account.resting[order.ticker][order.order_id]
        if account.client_ids.get(order.client_order_id) == order.order_id:
            del account.client_ids[order.client_order_id]
        group = self.order_groups.get(order.order_group_id)
        if group is not None:
            group.order_ids.pop(order.order_id, None)
        account.refresh_held(order.ticker)
        self.touch_account(order.user_id)

    def finish(self, order: LiveOrder, status: OrderStatus, now_ms: TsMs) -> None:
        """Take an order out of play for good (canceled, or executed when nothing remains)."""
        if self.is_in_book(order):
            self.unrest(order)
        order.finish(status, now_ms)
        account = self.accounts[order.user_id]
        if account.keeps_history:
            self.finished.append((now_ms, order.order_id))
            account.finished.append((now_ms, order.order_id))
        else:
            self.order_by_id.pop(order.order_id, None)
            account.orders.pop(order.order_id, None)
        self.counts["orders_executed" if status is OrderStatus.EXECUTED else "orders_canceled"] += 1
        self.touch_order(order)

    def cancel(self, order: LiveOrder, now_ms: TsMs) -> int:
        reduced_by = order.remaining
        self.finish(order, OrderStatus.CANCELED, now_ms)
        return reduced_by

    def trigger_group_now(self, group: OrderGroup, now_ms: TsMs) -> None:
        group.triggered = True
        self.counts["group_triggers"] += 1
        for order_id in list(group.order_ids):
            self.cancel(self.order_by_id[order_id], now_ms)


def _new_timeline() -> Timeline[SimPosition | None]:
    return Timeline()
