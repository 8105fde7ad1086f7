"""Small constructors for the pure-core tests (prices in $0.0001, counts in 0.01 contract)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dora.core.market_config import MarketConfig, parse_market_config
from dora.core.models import (
    LINEAR_CENT,
    Fill,
    Level,
    MarketRules,
    MarketStatus,
    OrderBook,
    PositionState,
    PriceRange,
    PublicTrade,
    RestingOrder,
    Side,
)
from dora.core.strategies.base import QuoteInputs

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
TICKER = "KXTEST-26JAN01-T50"
C = 100  # one contract


def config(**fields: Any) -> MarketConfig:
    item: dict[str, Any] = {"market_id": TICKER, "enabled": True, **fields}
    parsed = parse_market_config(item)
    assert isinstance(parsed, MarketConfig), parsed
    return parsed


def book(
    bids: Sequence[tuple[int, int]] = (), asks: Sequence[tuple[int, int]] = (), ticker: str = TICKER
) -> OrderBook:
    return OrderBook(
        ticker, tuple(Level(p, c) for p, c in bids), tuple(Level(p, c) for p, c in asks)
    )


def rules(
    status: MarketStatus = MarketStatus.ACTIVE,
    close_ms: int = NOW + 72 * HOUR,
    ranges: tuple[PriceRange, ...] = LINEAR_CENT,
    fractional: bool = False,
    ticker: str = TICKER,
) -> MarketRules:
    return MarketRules(ticker, status, close_ms, ranges, fractional_trading=fractional)


def trade(
    price: int, count: int = 10 * C, age_ms: int = 0, trade_id: str = "", ticker: str = TICKER
) -> PublicTrade:
    return PublicTrade(
        trade_id or f"t{price}-{age_ms}-{count}", ticker, price, count, Side.BID, NOW - age_ms
    )


def inputs(
    cfg: Any = None,
    bk: OrderBook | None = None,
    trades: tuple[PublicTrade, ...] = (),
    position: PositionState | None = None,
    rl: MarketRules | None = None,
    now_ms: int = NOW,
    close_guard_ms: int = 600_000,
) -> QuoteInputs:
    return QuoteInputs(
        rules=rl or rules(),
        book=bk if bk is not None else book([(4000, 50 * C)], [(5000, 50 * C)]),
        trades=trades,
        position=position or PositionState(TICKER),
        config=cfg if cfg is not None else config(),
        now_ms=now_ms,
        close_guard_ms=close_guard_ms,
    )


def long(net: int, avg: int, ticker: str = TICKER) -> PositionState:
    return PositionState(ticker, net=net, open_cost=net * avg)


def short(qty: int, avg: int, ticker: str = TICKER) -> PositionState:
    return PositionState(ticker, net=-qty, open_cost=qty * avg)


def order(
    side: Side,
    price: int,
    remaining: int,
    oid: str = "",
    cid: str = "dora-x",
    created_ms: int = 0,
    ticker: str = TICKER,
) -> RestingOrder:
    return RestingOrder(
        oid or f"o-{side}-{price}-{remaining}-{created_ms}",
        cid,
        ticker,
        side,
        price,
        remaining,
        created_ms=created_ms,
    )


def fill(
    side: Side,
    price: int,
    count: int,
    fee: int = 0,
    fill_id: str = "",
    ts_ms: int = NOW,
    ticker: str = TICKER,
) -> Fill:
    return Fill(
        fill_id or f"f-{side}-{price}-{count}-{ts_ms}",
        "o1",
        ticker,
        side,
        price,
        count,
        fee,
        False,
        ts_ms,
    )
