"""A cycle's reads, sent together: the exchange's user-data timestamp, resting orders and fills
always; the balance, books, positions, settlements and public trades as the cycle asks.

Nothing here changes the bot's state; :class:`dora.bot.reconcile.Reconciler` folds the answers in,
in a fixed order (orders, fills, then the rest), and raises a read's failure when it comes to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from dora.core.models import (
    Balance,
    ExchangePosition,
    Fill,
    OrderBook,
    PublicTrade,
    RestingOrder,
    Settlement,
    TsMs,
)
from dora.exchange.client import MAX_TICKERS_PER_CALL
from dora.exchange.parallel import Outcome, chunks
from dora.store.store import OperatorItems

T = TypeVar("T")
TRADE_LOOKBACK_MS = 24 * 3_600_000


class ParallelReader(Protocol):
    def run_together(self, calls: Sequence[Callable[[], T]]) -> list[Outcome[T]]: ...
    def fetch_user_data_timestamp(self) -> TsMs: ...
    def fetch_resting_orders(self, ticker: str | None = None) -> list[RestingOrder]: ...
    def fetch_fills(
        self, since_ms: TsMs, until_ms: TsMs | None = None, ticker: str | None = None
    ) -> list[Fill]: ...
    def fetch_positions(self) -> list[ExchangePosition]: ...
    def fetch_balance(self) -> Balance: ...
    def fetch_orderbooks(self, tickers: Sequence[str]) -> dict[str, OrderBook]: ...
    def fetch_trades(
        self, ticker: str, since_ms: TsMs | None = None, limit: int = 100
    ) -> list[PublicTrade]: ...
    def fetch_settlements(self, since_ms: TsMs | None = None) -> list[Settlement]: ...


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What a cycle reads besides the timestamp, orders and fills."""

    books: tuple[str, ...] = ()
    balance: bool = True
    positions: bool = False
    settlements_since_ms: TsMs | None = None  # None: settlements are not read this cycle
    trades: tuple[str, ...] = ()  # markets whose public trades are read
    now_ms: TsMs = 0  # trades are read back TRADE_LOOKBACK_MS from here


@dataclass
class CycleReads:
    """Every answer of one cycle's reads (a failed read holds its exception). ``as_of_ms``: the
    moment the listing certainly reflects (see :mod:`dora.bot.reconcile`)."""

    plan: ReadPlan
    as_of_ms: TsMs
    timestamp: Outcome[TsMs]
    orders: Outcome[list[RestingOrder]]
    fills: Outcome[list[Fill]]
    balance: Outcome[Balance] | None = None
    positions: Outcome[list[ExchangePosition]] | None = None
    settlements: Outcome[list[Settlement]] | None = None
    books: list[Outcome[dict[str, OrderBook]]] = field(default_factory=list)
    trades: dict[str, Outcome[list[PublicTrade]]] = field(default_factory=dict)
    operator_items: Outcome[OperatorItems] | None = None  # DynamoDB's, when sent along


def read_together(
    reader: ParallelReader, plan: ReadPlan, *, fills_since_ms: TsMs, as_of_ms: TsMs,
    operator_items: Callable[[], OperatorItems] | None = None,
) -> CycleReads:
    """Send every read of ``plan`` (and the timestamp, orders and fills) at once, and the read
    of the operator items from DynamoDB with them when given."""
    calls: list[Callable[[], Any]] = [
        reader.fetch_user_data_timestamp,
        reader.fetch_resting_orders,
        lambda: reader.fetch_fills(since_ms=fills_since_ms),
    ]
    named: list[str] = []
    if plan.balance:
        calls.append(reader.fetch_balance)
        named.append("balance")
    if plan.positions:
        calls.append(reader.fetch_positions)
        named.append("positions")
    since = plan.settlements_since_ms
    if since is not None:
        calls.append(lambda: reader.fetch_settlements(since_ms=since))
        named.append("settlements")
    book_chunks = chunks(plan.books, MAX_TICKERS_PER_CALL)
    calls += [_books_call(reader, chunk) for chunk in book_chunks]
    calls += [_trades_call(reader, t, plan.now_ms - TRADE_LOOKBACK_MS) for t in plan.trades]
    if operator_items is not None:
        calls.append(operator_items)
    outcomes = reader.run_together(calls)
    reads = CycleReads(plan, as_of_ms, timestamp=outcomes[0], orders=outcomes[1],
                       fills=outcomes[2])
    rest = iter(outcomes[3:])
    for name in named:
        setattr(reads, name, next(rest))
    reads.books = [next(rest) for _ in book_chunks]
    reads.trades = {ticker: next(rest) for ticker in plan.trades}
    if operator_items is not None:
        reads.operator_items = next(rest)
    return reads


def _books_call(reader: ParallelReader, chunk: Sequence[str]) -> Callable[[], Any]:
    return lambda: reader.fetch_orderbooks(chunk)


def _trades_call(reader: ParallelReader, ticker: str, since_ms: TsMs) -> Callable[[], Any]:
    return lambda: reader.fetch_trades(ticker, since_ms=since_ms)
