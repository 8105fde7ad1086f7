"""Promised cash: the exchange's balance corrected for dora's writes it does not show yet. Pure.

The balance Kalshi reports is the cash not held by resting orders, as of its own timestamp
(``updated_ts``; docs/kalshi-notes.md#balance). Like every portfolio read it lags dora's writes,
so on its own it overstates free cash right after dora places orders and understates it right after
dora cancels. The ledger keeps one :class:`Promise` per write dora made, with the exchange time of
the write, and

    free = balance - promised (places newer than the balance) + released (cancels newer than it)

A promise is forgotten once the balance shows it. The balance's timestamp names a whole second
(:class:`BalanceTime`) and the balance may show any write made during it; here too the choice is
the one that leaves the least free cash: a place counts until the balance surely shows it (made by
the start of that second), a release stops counting as soon as the balance may show it (made by the
end of that second), since a balance that already shows a cancel must not be credited with it
again. Every amount is likewise the one that leaves the least free cash, because positions lag too
and a position covers the orders that would close it (:func:`collateral`):

- a place promises its collateral with the least the position may still cover: when a cancel
  released less than the order had left, or found it already gone, the difference may have filled
  and closed part of the position unseen; the ledger keeps that count (:class:`MaybeClosed`) until
  dora's fills are read past the write;
- a cancel releases what the exchange said it cancelled, at the price its place promised when
  that promise is still pending, else only the part no position could have covered (which
  position covered an older order is not known);
- a decrease releases nothing until the balance shows it (its answer does not say whether part of
  the order filled first).

Fills need no entry: none lowers free cash (a fill turns held collateral into position cost, or
closes a position and brings cash in), apart from fees, and the most an order that may take
liquidity can pay in fees is held up front, as the exchange does.

Collateral: a bid holds its price per contract, an ask $1 minus its price; contracts the position
would close are covered (a long covers asks, a short covers bids), the most expensive holdings
first (the highest bids, the lowest asks). The risk checks use the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from dora.core.models import Balance, OrderStatus, PositionState, RestingOrder, Side, TsMs
from dora.core.units import ONE_DOLLAR, Count, Micros, Price

Holding = tuple[Price, Count]  # one resting order's (price, remaining) on one side


def collateral(net: Count, bids: Iterable[Holding], asks: Iterable[Holding]) -> Micros:
    """Cash one market's resting orders hold, given the position there."""
    return side_collateral(Side.BID, net, bids) + side_collateral(Side.ASK, net, asks)


def side_collateral(side: Side, net: Count, orders: Iterable[Holding]) -> Micros:
    """Cash one side's resting orders hold: a bid its price per contract, an ask $1 minus its
    price, except the contracts the position would close (a short covers bids, a long asks),
    the most expensive holdings first."""
    covered = max(-net, 0) if side is Side.BID else max(net, 0)
    if side is Side.BID:
        if not covered:
            return sum(price * count for price, count in orders)
        return _held(sorted(orders, reverse=True), covered, _own_price)
    if not covered:
        return sum((ONE_DOLLAR - price) * count for price, count in orders)
    return _held(sorted(orders), covered, _no_price)


def _own_price(price: Price) -> Price:
    return price


def _no_price(price: Price) -> Price:
    return ONE_DOLLAR - price


def covering(net: Count, maybe_closed: Count) -> Count:
    """The part of a position that surely still covers orders: ``net`` shrunk toward zero by
    the contracts that may already have been closed by fills dora has not read yet."""
    if net > 0:
        return max(net - maybe_closed, 0)
    return min(net + maybe_closed, 0)


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
    GONE = "gone"  # a cancel or decrease found the order already gone: it may have filled


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
    count: Count = 0  # the contracts of a place


@dataclass(frozen=True, slots=True)
class MaybeClosed:
    """Contracts of one of dora's orders that may have filled before dora's cancel reached it
    (the cancel released less than the order had left, or found it gone); dora's fills do not
    show them yet. An ask that filled made the position smaller if it was long (or a short
    larger); a bid, the other way round."""

    key: str  # the order id
    ticker: str
    side: Side
    count: Count
    written_ms: TsMs


@dataclass(frozen=True, slots=True)
class BalanceTime:
    """When a balance is as of: some moment from ``earliest_ms`` to ``latest_ms``. Kalshi's
    ``updated_ts`` counts whole seconds (docs/kalshi-notes.md#balance): a balance stamped with
    second S may already show a write made at S + 0.6 s."""

    earliest_ms: TsMs
    latest_ms: TsMs

    @classmethod
    def of(cls, balance: Balance, fallback_ms: TsMs) -> BalanceTime:
        """``balance``'s own time; without one, ``fallback_ms`` (the orders' as-of time)."""
        if not balance.updated_ts_ms:
            return cls(fallback_ms, fallback_ms)
        return cls(balance.updated_ts_ms,
                   balance.updated_ts_ms + balance.updated_ts_precision_ms - 1)

    def shows(self, promise: Promise) -> bool:
        """Whether to take ``promise`` as shown, whichever leaves less free cash: a promise of
        cash (a place) once the balance surely shows it, a release as soon as it may."""
        bound = self.latest_ms if promise.amount < 0 else self.earliest_ms
        return promise.written_ms <= bound


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
    maybe_closed: tuple[MaybeClosed, ...] = field(default=())

    def record(
        self, promises: Iterable[Promise], maybe_closed: Iterable[MaybeClosed] = ()
    ) -> CashLedger:
        """Add entries; a write recorded twice (same key) keeps its latest amount and time."""
        merged = {p.key: p for p in self.promises}
        merged.update((p.key, p) for p in promises)
        closed = {m.key: m for m in self.maybe_closed}
        closed.update((m.key, m) for m in maybe_closed)
        return CashLedger(tuple(merged.values()), tuple(closed.values()))

    def with_writes(
        self, writes: Sequence[CashWrite], positions: Mapping[str, PositionState],
        resting: Sequence[RestingOrder],
    ) -> CashLedger:
        """The ledger after dora's writes, made from the resting set ``resting``."""
        promises = _Promiser(self, positions, resting).promises(writes)
        return self.record(promises, maybe_filled_by(writes, resting))

    def settle(self, balance_as_of: BalanceTime) -> CashLedger:
        """Forget the promises a balance as of ``balance_as_of`` shows."""
        kept = tuple(p for p in self.promises if not balance_as_of.shows(p))
        return CashLedger(kept, self.maybe_closed)

    def settle_fills(self, fills_as_of_ms: TsMs) -> CashLedger:
        """Forget the maybe-closed contracts dora's fills, read as of ``fills_as_of_ms``, show."""
        kept = tuple(m for m in self.maybe_closed if m.written_ms > fills_as_of_ms)
        return CashLedger(self.promises, kept)

    def view(self, balance: Micros, balance_as_of: BalanceTime) -> CashView:
        pending = [p.amount for p in self.promises if not balance_as_of.shows(p)]
        return CashView(balance, balance_as_of.earliest_ms,
                        promised=sum(a for a in pending if a > 0),
                        released=-sum(a for a in pending if a < 0))

    def maybe_filled_by_market(self) -> dict[str, tuple[Count, Count]]:
        """Per market, the (bid, ask) contracts of dora's orders that may have filled unseen:
        until the fills are read, the position may be that much longer (bids) or shorter
        (asks) than dora knows."""
        totals: dict[str, tuple[Count, Count]] = {}
        for entry in self.maybe_closed:
            bids, asks = totals.get(entry.ticker, (0, 0))
            if entry.side is Side.BID:
                bids += entry.count
            else:
                asks += entry.count
            totals[entry.ticker] = (bids, asks)
        return totals

    def maybe_closed_by_market(self, positions: Mapping[str, PositionState]) -> dict[str, Count]:
        """Per market, the contracts of the position that fills dora has not read yet may
        already have closed: the maybe-filled orders on the side that reduces it."""
        totals: dict[str, Count] = {}
        for ticker, (bids, asks) in self.maybe_filled_by_market().items():
            position = positions.get(ticker)
            net = position.net if position is not None else 0
            reducing = asks if net > 0 else bids if net < 0 else 0
            if reducing:
                totals[ticker] = reducing
        return totals


class _Market:
    def __init__(self, net: Count, cover: Count) -> None:
        self.net = net
        self.cover = cover  # the least of the position that may still cover orders
        self.orders: dict[str, tuple[Side, Price, Count]] = {}

    def held(self) -> Micros:
        bids = [(p, c) for s, p, c in self.orders.values() if s is Side.BID]
        asks = [(p, c) for s, p, c in self.orders.values() if s is Side.ASK]
        return collateral(self.cover, bids, asks)

    def could_cover(self, side: Side, maybe_filled: Count) -> Count:
        """The most contracts on ``side`` a position could cover, were every order of dora's on
        the other side filled without dora knowing yet (those resting, and ``maybe_filled``
        more that a cancel found partly or wholly gone)."""
        other = sum(c for s, _, c in self.orders.values() if s is side.opposite)
        return max(-self.net if side is Side.BID else self.net, 0) + other + maybe_filled


class _Promiser:
    def __init__(self, ledger: CashLedger, positions: Mapping[str, PositionState],
                 resting: Sequence[RestingOrder]) -> None:
        self._pending = {p.key: p for p in ledger.promises}
        self._closed = ledger.maybe_closed_by_market(positions)
        self._maybe_filled: dict[tuple[str, Side], Count] = {}
        for entry in ledger.maybe_closed:
            self._note_maybe_filled(entry.ticker, entry.side, entry.count)
        self._positions = positions
        self._clients = {o.order_id: o.client_order_id for o in resting}
        self._markets: dict[str, _Market] = {}
        for order in resting:
            if order.status is OrderStatus.RESTING and order.remaining > 0:
                self._market(order.ticker).orders[order.order_id] = (
                    order.side, order.price, order.remaining)

    def _note_maybe_filled(self, ticker: str, side: Side, count: Count) -> None:
        self._maybe_filled[(ticker, side)] = self._maybe_filled.get((ticker, side), 0) + count

    def _market(self, ticker: str) -> _Market:
        if ticker not in self._markets:
            position = self._positions.get(ticker)
            net = position.net if position else 0
            self._markets[ticker] = _Market(net, covering(net, self._closed.get(ticker, 0)))
        return self._markets[ticker]

    def promises(self, writes: Sequence[CashWrite]) -> list[Promise]:
        made = []
        for write in writes:
            market = self._market(write.ticker)
            key = f"{write.kind}:{write.key}"
            if write.kind is WriteKind.PLACE:
                before = market.held()
                market.orders[key] = (write.side, write.price, write.count)
                amount = market.held() - before + write.fee_bound
                made.append(Promise(key, amount, write.written_ms, write.count))
            elif write.kind is WriteKind.GONE:  # it stays in the model: it may have filled
                continue
            else:
                if write.kind is WriteKind.CANCEL:
                    made += self._release(market, write, key)
                side, price, left = market.orders.get(write.key, (write.side, write.price, 0))
                market.orders[write.key] = (side, price, max(left - write.count, 0))
        return made

    def _release(self, market: _Market, write: CashWrite, key: str) -> list[Promise]:
        """A cancel of an order whose place is still pending undoes that promise (and lapses with
        it, or up to a second sooner as any release may: once the balance shows the place, which
        position covered it is not known); any other cancel frees only the contracts no position
        could have covered."""
        placed = self._pending.get(f"place:{self._clients.get(write.key, '')}")
        if placed is not None and placed.count > 0:
            amount = max(placed.amount, 0) * min(write.count, placed.count) // placed.count
            return [Promise(key, -amount, placed.written_ms)] if amount else []
        maybe = self._maybe_filled.get((write.ticker, write.side.opposite), 0)
        uncovered = max(write.count - market.could_cover(write.side, maybe), 0)
        per_contract = write.price if write.side is Side.BID else ONE_DOLLAR - write.price
        amount = per_contract * uncovered
        return [Promise(key, -amount, write.written_ms)] if amount else []


def resting_collateral(
    positions: Mapping[str, PositionState], orders: Iterable[RestingOrder]
) -> Micros:
    """Cash a set of resting orders holds, market by market, given the positions."""
    by_market: dict[str, tuple[list[Holding], list[Holding]]] = {}
    for order in orders:
        if order.status is OrderStatus.RESTING and order.remaining > 0:
            bids, asks = by_market.setdefault(order.ticker, ([], []))
            (bids if order.side is Side.BID else asks).append((order.price, order.remaining))
    total: Micros = 0
    for ticker, (bids, asks) in by_market.items():
        position = positions.get(ticker)
        total += collateral(position.net if position else 0, bids, asks)
    return total


def maybe_filled_by(
    writes: Sequence[CashWrite], resting: Sequence[RestingOrder]
) -> list[MaybeClosed]:
    """The contracts a cancel did not release (all of them when the order was already gone):
    they may have filled. Which way that moved the position is decided when it is used, against
    the position dora knows then (it may have read one fill and not the next)."""
    by_id = {o.order_id: o for o in resting}
    found = []
    for write in writes:
        order = by_id.get(write.key)
        stopped = write.kind in (WriteKind.CANCEL, WriteKind.GONE)
        if stopped and order is not None and order.remaining > write.count:
            found.append(MaybeClosed(write.key, order.ticker, order.side,
                                     order.remaining - write.count, write.written_ms))
    return found


def after_writes(
    resting: Sequence[RestingOrder], writes: Sequence[CashWrite]
) -> list[RestingOrder]:
    """The resting set after dora's cancels and decreases: a cancelled order is gone (cancelled,
    or filled first: :func:`maybe_closed_by` keeps what it may have closed), a decreased one is
    smaller by the cut; places are not added."""
    stopped = {w.key for w in writes if w.kind in (WriteKind.CANCEL, WriteKind.GONE)}
    cuts: dict[str, Count] = {}
    for write in writes:
        if write.kind is WriteKind.DECREASE:
            cuts[write.key] = cuts.get(write.key, 0) + write.count
    kept = []
    for order in resting:
        cut = cuts.get(order.order_id, 0)
        if order.order_id not in stopped and cut < order.remaining:
            kept.append(replace(order, remaining=order.remaining - cut) if cut else order)
    return kept
