"""Accounts: cash, collateral held by resting orders, netted positions and P&L.

Position per market is one signed count (+YES / -NO). Buying the side opposite to a position
closes pairs first; each closed YES+NO pair pays $1 at once. ``exposure`` is the cost basis of
the open position; closing removes cost pro rata (the last contract takes the remainder).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from dora.core.models import Side, TsMs
from dora.core.units import ONE_DOLLAR, Count, Micros, Price
from dora.sim.engine.history import Timeline
from dora.sim.engine.orders import LiveOrder
from dora.sim.engine.records import SimBalance, SimFill, SimPosition, SimSettlement


class Position:
    __slots__ = ("exposure", "fees_paid", "position", "realized_pnl", "total_traded", "updated_ms")

    def __init__(self) -> None:
        self.position: Count = 0
        self.exposure: Micros = 0
        self.realized_pnl: Micros = 0
        self.fees_paid: Micros = 0
        self.total_traded: Micros = 0
        self.updated_ms: TsMs = 0

    def snapshot(self, ticker: str) -> SimPosition:
        return SimPosition(
            ticker=ticker, position=self.position, exposure=self.exposure,
            realized_pnl=self.realized_pnl, fees_paid=self.fees_paid,
            total_traded=self.total_traded, updated_ms=self.updated_ms,
        )


def outcome_cost(side: Side, price: Price) -> Price:
    """What one contract costs the buyer on this book side: YES price for bids, NO for asks."""
    return price if side is Side.BID else ONE_DOLLAR - price


def apply_trade(pos: Position, side: Side, price: Price, count: Count, now_ms: TsMs) -> Micros:
    """Book a fill on ``pos``; return the cash change (before fees)."""
    cost = outcome_cost(side, price)
    held_opposite = max(-pos.position, 0) if side is Side.BID else max(pos.position, 0)
    closing = min(count, held_opposite)
    removed_cost = 0
    if closing:
        removed_cost = (pos.exposure if closing == held_opposite
                        else pos.exposure * closing // held_opposite)
        pos.realized_pnl += (ONE_DOLLAR - cost) * closing - removed_cost
    pos.exposure += cost * (count - closing) - removed_cost
    pos.position += side.sign * count
    pos.total_traded += cost * count
    pos.updated_ms = now_ms
    return ONE_DOLLAR * closing - cost * count


Resting = tuple[Side, Price, Count]  # (side, price, remaining) of a resting order


def required_collateral(position: Count, orders: Iterable[Resting]) -> Micros:
    """Cash a set of resting orders in one market locks, given the current position.

    A bid reserves its YES price per contract, an ask its NO price. A short position covers
    bids (they would close it) and a long position covers asks, best-priced orders first.
    """
    listed = list(orders)
    bids = sorted((o for o in listed if o[0] is Side.BID), key=lambda o: -o[1])
    asks = sorted((o for o in listed if o[0] is Side.ASK), key=lambda o: o[1])
    total = 0
    for side_orders, covering in ((bids, max(-position, 0)), (asks, max(position, 0))):
        cover = covering
        for side, price, remaining in side_orders:
            covered = min(cover, remaining)
            cover -= covered
            total += outcome_cost(side, price) * (remaining - covered)
    return total


def settlement_payout(pos: Position, result: str) -> Micros:
    if result == "yes":
        return ONE_DOLLAR * max(pos.position, 0)
    return ONE_DOLLAR * max(-pos.position, 0)


class Account:
    """One user's money, positions and the indexes the engine keeps per user."""

    def __init__(self, user_id: str, cash: Micros, *, keeps_history: bool = True) -> None:
        self.user_id = user_id
        self.keeps_history = keeps_history  # False: finished orders are forgotten at once
        self.cash: Micros = cash
        self.held: Micros = 0
        self.held_by_market: dict[str, Micros] = {}
        self.positions: dict[str, Position] = {}
        self.resting: dict[str, dict[str, LiveOrder]] = {}  # ticker -> order_id -> order
        self.orders: dict[str, LiveOrder] = {}  # every retained order, in creation order
        self.finished: deque[tuple[TsMs, str]] = deque()  # (finished_ms, order_id), time order
        self.client_ids: dict[str, str] = {}  # client_order_id -> order_id, resting orders only
        self.fills: deque[SimFill] = deque()
        self.settlements: list[SimSettlement] = []
        self.balance_history: Timeline[SimBalance] = Timeline()
        self.position_history: dict[str, Timeline[SimPosition | None]] = {}

    @property
    def available(self) -> Micros:
        return self.cash - self.held

    def position(self, ticker: str) -> Position:
        pos = self.positions.get(ticker)
        if pos is None:
            pos = self.positions[ticker] = Position()
        return pos

    def refresh_held(self, ticker: str) -> None:
        """Recompute the collateral locked in ``ticker`` after an order or position change."""
        need = self._required(ticker, None, None)
        self.held += need - self.held_by_market.get(ticker, 0)
        if need:
            self.held_by_market[ticker] = need
        else:
            self.held_by_market.pop(ticker, None)

    def extra_collateral(self, ticker: str, add: Resting,
                         replacing: LiveOrder | None = None) -> Micros:
        """Extra collateral ``ticker`` would need if ``add`` rested (in place of ``replacing``)."""
        return self._required(ticker, add, replacing) - self.held_by_market.get(ticker, 0)

    def _required(self, ticker: str, add: Resting | None, replacing: LiveOrder | None) -> Micros:
        pos = self.positions.get(ticker)
        orders = [(o.side, o.price, o.remaining) for o in self.resting.get(ticker, {}).values()
                  if o is not replacing]
        if add is not None:
            orders.append(add)
        return required_collateral(pos.position if pos else 0, orders)

    def balance_snapshot(self, now_ms: TsMs) -> SimBalance:
        """``balance`` is cash not locked by resting orders; ``portfolio_value`` is the open
        positions at cost (the sim does not mark to market)."""
        value = sum(p.exposure for p in self.positions.values())
        return SimBalance(balance=self.available, portfolio_value=value, updated_ms=now_ms)
