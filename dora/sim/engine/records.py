"""Records the simulator engine hands out, and the one error it raises.

Every record is an immutable snapshot; the engine never returns its live state.
Units: prices in $0.0001 (YES frame), counts in 0.01 contracts, cash in micro-dollars.
"""

from __future__ import annotations

from dataclasses import dataclass

from dora.core.models import (
    MarketStatus,
    OrderStatus,
    PriceRange,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TsMs,
)
from dora.core.units import ONE_DOLLAR, Count, Micros, Price


class EngineError(Exception):
    """A refusal the HTTP layer turns into ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message or code}")
        self.status = status
        self.code = code
        self.message = message or code.replace("_", " ")


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(what)


@dataclass(frozen=True, slots=True)
class CreateOrder:
    """A V2 CreateOrder request, already parsed into units."""

    ticker: str
    side: Side
    price: Price
    count: Count
    time_in_force: TimeInForce
    self_trade_prevention: SelfTradePrevention
    client_order_id: str = ""
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    expiration_s: int | None = None
    order_group_id: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.ticker), "ticker is required")
        _require(isinstance(self.side, Side), f"bad side {self.side!r}")
        _require(isinstance(self.time_in_force, TimeInForce), "bad time_in_force")
        _require(isinstance(self.self_trade_prevention, SelfTradePrevention), "bad stp")


@dataclass(frozen=True, slots=True)
class SimOrder:
    order_id: str
    user_id: str
    client_order_id: str
    ticker: str
    side: Side
    price: Price
    initial: Count
    filled: Count
    remaining: Count
    status: OrderStatus
    time_in_force: TimeInForce
    self_trade_prevention: SelfTradePrevention
    post_only: bool
    reduce_only: bool
    cancel_order_on_pause: bool
    expiration_s: int | None
    order_group_id: str
    created_ms: TsMs
    updated_ms: TsMs
    taker_fill_cost: Micros
    maker_fill_cost: Micros
    taker_fees: Micros
    maker_fees: Micros

    def __post_init__(self) -> None:
        _require(self.filled >= 0 and self.remaining >= 0, f"negative count in {self.order_id}")
        _require(
            (self.status is OrderStatus.RESTING) == (self.remaining > 0),
            f"order {self.order_id} status {self.status} with remaining {self.remaining}",
        )


@dataclass(frozen=True, slots=True)
class SimFill:
    """One party's side of one match."""

    fill_id: str
    trade_id: str
    order_id: str
    user_id: str
    ticker: str
    side: Side  # book side of THIS user's order
    price: Price  # YES frame; the NO price is ONE_DOLLAR - price
    count: Count
    is_taker: bool
    fee: Micros
    ts_ms: TsMs

    def __post_init__(self) -> None:
        _require(0 < self.price < ONE_DOLLAR, f"fill price {self.price} outside (0, 1)")
        _require(self.count > 0, "fill count must be positive")
        _require(self.fee >= 0, "fee must not be negative")

    @property
    def no_price(self) -> Price:
        return ONE_DOLLAR - self.price


@dataclass(frozen=True, slots=True)
class SimTrade:
    """A public tape entry."""

    trade_id: str
    ticker: str
    price: Price
    count: Count
    taker_side: Side
    ts_ms: TsMs

    def __post_init__(self) -> None:
        _require(0 < self.price < ONE_DOLLAR, f"trade price {self.price} outside (0, 1)")
        _require(self.count > 0, "trade count must be positive")


@dataclass(frozen=True, slots=True)
class SimPosition:
    ticker: str
    position: Count  # signed: +YES / -NO
    exposure: Micros
    realized_pnl: Micros
    fees_paid: Micros
    total_traded: Micros
    updated_ms: TsMs

    def __post_init__(self) -> None:
        _require(self.exposure >= 0, "exposure must not be negative")


@dataclass(frozen=True, slots=True)
class SimBalance:
    balance: Micros
    portfolio_value: Micros
    updated_ms: TsMs


@dataclass(frozen=True, slots=True)
class SimMarket:
    ticker: str
    event_ticker: str
    status: MarketStatus
    open_ms: TsMs
    close_ms: TsMs
    price_level_structure: str
    price_ranges: tuple[PriceRange, ...]
    fractional: bool
    maker_fees: bool
    result: str
    last_price: Price | None
    volume: Count
    best_bid: Price | None
    best_bid_size: Count
    best_ask: Price | None
    best_ask_size: Count
    created_ms: TsMs
    updated_ms: TsMs
    settled_ms: TsMs | None

    def __post_init__(self) -> None:
        _require(bool(self.price_ranges), f"market {self.ticker} has no price ranges")


@dataclass(frozen=True, slots=True)
class SimSettlement:
    ticker: str
    event_ticker: str
    result: str
    yes_count: Count
    no_count: Count
    yes_cost: Micros
    no_cost: Micros
    revenue: Micros
    settled_ms: TsMs

    def __post_init__(self) -> None:
        _require(self.result in ("yes", "no"), f"bad settlement result {self.result!r}")


@dataclass(frozen=True, slots=True)
class SimGroup:
    group_id: str
    contracts_limit: Count
    auto_cancel_enabled: bool
    order_ids: tuple[str, ...]  # the group's resting orders
    triggered: bool = False  # True from a breach or trigger until reset

    def __post_init__(self) -> None:
        _require(self.contracts_limit > 0, "contracts_limit must be positive")
