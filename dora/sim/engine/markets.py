"""A simulated market: rules, lifecycle status, its book and its public tape."""

from __future__ import annotations

from collections import deque

from dora.core.models import PRICE_LEVEL_STRUCTURES, MarketStatus, PriceRange, Side, TsMs
from dora.core.ticks import is_valid_price
from dora.core.units import ONE_CONTRACT, Count, Price
from dora.sim.engine.book import Book
from dora.sim.engine.records import EngineError, SimMarket, SimTrade

# Kalshi's GET /markets status filter vocabulary -> Market.status values.
STATUS_FILTERS: dict[str, frozenset[MarketStatus]] = {
    "unopened": frozenset({MarketStatus.INITIALIZED}),
    "open": frozenset({MarketStatus.ACTIVE}),
    "paused": frozenset({MarketStatus.INACTIVE}),
    "closed": frozenset({MarketStatus.CLOSED, MarketStatus.DETERMINED, MarketStatus.DISPUTED,
                         MarketStatus.AMENDED}),
    "settled": frozenset({MarketStatus.FINALIZED}),
}
# Kalshi's schema has no "void" result (docs/kalshi-notes.md#enumerations): binary markets settle
# yes or no.
SETTLEMENT_RESULTS = ("yes", "no")


class MarketState:
    def __init__(self, ticker: str, index: int, *, event_ticker: str, open_ms: TsMs,
                 close_ms: TsMs, structure: str, fractional: bool, maker_fees: bool,
                 status: MarketStatus, now_ms: TsMs) -> None:
        ranges = _ranges_of(structure)
        self.ticker = ticker
        self.index = index
        self.event_ticker = event_ticker
        self.status = status
        self.open_ms = open_ms
        self.close_ms = close_ms
        self.structure = structure
        self.ranges = ranges
        self.fractional = fractional
        self.maker_fees = maker_fees
        self.result = ""
        self.last_price: Price | None = None
        self.volume: Count = 0
        self.created_ms = now_ms
        self.updated_ms = now_ms
        self.settled_ms: TsMs | None = None
        self.book = Book()
        self.trades: deque[SimTrade] = deque()

    def check_price(self, price: Price) -> None:
        if not is_valid_price(self.ranges, price):
            raise EngineError(400, "invalid_price", f"price {price} is not on {self.structure}")

    def check_count(self, count: Count) -> None:
        step = 1 if self.fractional else ONE_CONTRACT
        if count <= 0 or count % step:
            raise EngineError(400, "invalid_parameters", f"count {count} is not a valid size")

    def check_tradable(self) -> None:
        if self.status is MarketStatus.INACTIVE:
            raise EngineError(409, "trading_is_paused", f"market {self.ticker} is paused")
        if self.status is not MarketStatus.ACTIVE:
            raise EngineError(409, "market_closed", f"market {self.ticker} is {self.status}")

    def set_structure(self, structure: str, now_ms: TsMs) -> None:
        ranges = _ranges_of(structure)
        self.structure = structure
        self.ranges = ranges
        self.updated_ms = now_ms

    def set_status(self, status: MarketStatus, now_ms: TsMs) -> None:
        self.status = status
        self.updated_ms = now_ms

    def record_trade(self, trade: SimTrade) -> None:
        self.trades.append(trade)
        self.last_price = trade.price
        self.volume += trade.count
        self.updated_ms = trade.ts_ms

    def snapshot(self) -> SimMarket:
        bid, ask = self.book.best_level(Side.BID), self.book.best_level(Side.ASK)
        return SimMarket(
            ticker=self.ticker, event_ticker=self.event_ticker, status=self.status,
            open_ms=self.open_ms, close_ms=self.close_ms, price_level_structure=self.structure,
            price_ranges=self.ranges, fractional=self.fractional, maker_fees=self.maker_fees,
            result=self.result, last_price=self.last_price, volume=self.volume,
            best_bid=self.book.best_price(Side.BID), best_bid_size=bid.total if bid else 0,
            best_ask=self.book.best_price(Side.ASK), best_ask_size=ask.total if ask else 0,
            created_ms=self.created_ms, updated_ms=self.updated_ms, settled_ms=self.settled_ms,
        )


def _ranges_of(structure: str) -> tuple[PriceRange, ...]:
    ranges = PRICE_LEVEL_STRUCTURES.get(structure)
    if ranges is None:
        raise EngineError(400, "invalid_parameters", f"unknown price structure {structure}")
    return ranges
