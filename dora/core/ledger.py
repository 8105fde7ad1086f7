"""Promised cash: the exchange's balance corrected for dora's writes it does not show yet. Pure.

The balance Kalshi reports is the cash not held by resting orders, as of its own timestamp
(``updated_ts``; docs/kalshi-notes.md#balance). Like every portfolio read it lags dora's writes,
so on its own it overstates free cash right after dora places orders and understates it right after
dora cancels. The ledger keeps one :class:`Promise` per write dora made (a place holds cash, a
cancel or a decrease releases it) with the exchange time of the write, and

    free = balance - promised (places newer than the balance) + released (cancels and decreases
           newer than the balance)

A promise is forgotten once the balance's timestamp reaches it. Fills need no entry: a fill turns
held collateral into position cost (free cash unchanged) or closes a position (free cash grows,
which the ledger leaves for the balance to show); the most an order that may take liquidity can
pay in fees is held up front, as the exchange does. Every amount errs on the side of less free cash.

Collateral (:func:`collateral`): a bid holds its price per contract, an ask $1 minus its price;
contracts the position would close are covered (a long covers asks, a short covers bids), the
most expensive holdings first (the highest bids, the lowest asks). The risk checks use the same
rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from dora.core.models import OrderStatus, PositionState, RestingOrder, Side, TsMs
from dora.core.units import ONE_DOLLAR, Count, Micros, Price

Holding = tuple[Price, Count]  # one resting order's (price, remaining) on one side


def collateral(net: Count, bids: Iterable[Holding], asks: Iterable[Holding]) -> Micros:
    """Cash one market's resting orders hold, given the position there."""
    return (_held(sorted(bids, reverse=True), max(-net, 0), lambda p: p)
            + _held(sorted(asks), max(net, 0), lambda p: ONE_DOLLAR - p))


def _held(orders: list[Holding], covered: Count, per_contract: Callable[[Price], Price]) -> Micros:
    total: Micros = 0
    for price, count in orders:
        free = min(covered, count)
        covered -= free
        total += per_contract(price) * (count - free)
    return total


class WriteKind(StrEnum):
    PLACE = "place"
    CANCEL = "cancel"
    DECREASE = "decrease"


@dataclass(frozen=True, slots=True)
class CashWrite:
    """One write the exchange accepted (or may have: an unknown create counts as placed).

    ``key``: the client order id of a place, the order id of a cancel or decrease. ``count``: the
    contracts placed, or released (a cancel's ``reduced_by``, a decrease's cut). ``written_ms``:
    the exchange's time of the write when it said, else the latest it can be. ``fee_bound``: the
    fees an order that may take liquidity can pay (0 for post-only)."""

    kind: WriteKind
    key: str
    ticker: str
    side: Side
    price: Price
    count: Count
    written_ms: TsMs
    fee_bound: Micros = 0


@dataclass(frozen=True, slots=True)
class Promise:
    key: str  # "<kind>:<key>" of the write
    amount: Micros  # > 0: cash the balance has yet to lose; < 0: cash it has yet to regain
    written_ms: TsMs


@dataclass(frozen=True, slots=True)
class CashView:
    """The balance as the exchange reported it and what dora's newer writes do to it."""

    balance: Micros
    as_of_ms: TsMs
    promised: Micros = 0
    released: Micros = 0

    @property
    def free(self) -> Micros:
        return self.balance - self.promised + self.released


@dataclass(frozen=True, slots=True)
class CashLedger:
    promises: tuple[Promise, ...] = field(default=())

    def record(self, promises: Iterable[Promise]) -> CashLedger:
        """Add promises; a write recorded twice (same key) keeps its latest amount and time."""
        merged = {p.key: p for p in self.promises}
        for promise in promises:
            merged[promise.key] = promise
        return CashLedger(tuple(merged.values()))

    def settle(self, balance_as_of_ms: TsMs) -> CashLedger:
        """Forget what a balance as of ``balance_as_of_ms`` already shows."""
        kept = tuple(p for p in self.promises if p.written_ms > balance_as_of_ms)
        return self if len(kept) == len(self.promises) else CashLedger(kept)

    def view(self, balance: Micros, balance_as_of_ms: TsMs) -> CashView:
        pending = [p.amount for p in self.promises if p.written_ms > balance_as_of_ms]
        return CashView(balance, balance_as_of_ms,
                        promised=sum(a for a in pending if a > 0),
                        released=-sum(a for a in pending if a < 0))


class _Market:
    def __init__(self, net: Count) -> None:
        self.net = net
        self.orders: dict[str, tuple[Side, Price, Count]] = {}

    def held(self) -> Micros:
        bids = [(p, c) for s, p, c in self.orders.values() if s is Side.BID]
        asks = [(p, c) for s, p, c in self.orders.values() if s is Side.ASK]
        return collateral(self.net, bids, asks)


def resting_collateral(
    positions: Mapping[str, PositionState], orders: Iterable[RestingOrder]
) -> Micros:
    """Cash a set of resting orders holds, market by market, given the positions."""
    markets: dict[str, _Market] = {}
    for order in orders:
        if order.status is OrderStatus.RESTING and order.remaining > 0:
            position = positions.get(order.ticker)
            market = markets.setdefault(order.ticker, _Market(position.net if position else 0))
            market.orders[order.order_id] = (order.side, order.price, order.remaining)
    return sum(m.held() for m in markets.values())


def promises_for(
    writes: Sequence[CashWrite], positions: Mapping[str, PositionState],
    resting: Sequence[RestingOrder],
) -> list[Promise]:
    """Each write's effect on free cash, applied in order to the resting set it was made from:
    the market's collateral after the write minus before it (plus the fee bound of a place)."""
    markets: dict[str, _Market] = {}

    def market(ticker: str) -> _Market:
        if ticker not in markets:
            position = positions.get(ticker)
            markets[ticker] = _Market(position.net if position else 0)
        return markets[ticker]

    for order in resting:
        if order.status is OrderStatus.RESTING and order.remaining > 0:
            market(order.ticker).orders[order.order_id] = (order.side, order.price, order.remaining)
    promises = []
    for write in writes:
        m = market(write.ticker)
        before = m.held()
        _apply(m, write)
        amount = m.held() - before + write.fee_bound
        promises.append(Promise(f"{write.kind}:{write.key}", amount, write.written_ms))
    return promises


def _apply(market: _Market, write: CashWrite) -> None:
    if write.kind is WriteKind.PLACE:
        market.orders[f"new:{write.key}"] = (write.side, write.price, write.count)
        return
    side, price, remaining = market.orders.get(write.key, (write.side, write.price, 0))
    left = remaining - write.count
    if left > 0:
        market.orders[write.key] = (side, price, left)
    else:
        market.orders.pop(write.key, None)
