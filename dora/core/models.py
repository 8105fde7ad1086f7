"""Domain value types shared by every layer. Pure: no I/O, no clock, no logging.

Units are the integers of :mod:`dora.core.units`; times are Unix epoch milliseconds (``TsMs``).
Prices are always in the YES frame: a ``bid`` buys YES at ``price``, an ``ask`` sells YES at
``price`` (which is buying NO at ``ONE_DOLLAR - price``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, TypeAlias

from dora.core.units import ONE_DOLLAR, Count, Micros, Price

TsMs: TypeAlias = int


class Side(StrEnum):
    BID = "bid"
    ASK = "ask"

    @property
    def opposite(self) -> Side:
        return Side.ASK if self is Side.BID else Side.BID

    @property
    def sign(self) -> int:
        """+1 when this side adds YES contracts, -1 when it removes them."""
        return 1 if self is Side.BID else -1


class MarketStatus(StrEnum):
    """Kalshi's Market.status vocabulary, narrowed to what changes dora's behaviour."""

    INITIALIZED = "initialized"
    INACTIVE = "inactive"  # paused
    ACTIVE = "active"  # open for trading
    CLOSED = "closed"
    DETERMINED = "determined"
    DISPUTED = "disputed"
    AMENDED = "amended"
    FINALIZED = "finalized"  # settled
    UNKNOWN = "unknown"  # a status this version does not know yet: never traded

    @property
    def tradable(self) -> bool:
        return self is MarketStatus.ACTIVE


class OrderStatus(StrEnum):
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


class TimeInForce(StrEnum):
    GTC = "good_till_canceled"
    IOC = "immediate_or_cancel"
    FOK = "fill_or_kill"


class SelfTradePrevention(StrEnum):
    TAKER_AT_CROSS = "taker_at_cross"
    MAKER = "maker"


class SnapDirection(StrEnum):
    DOWN = "down"  # bids: never pay more than intended
    UP = "up"  # asks: never sell for less than intended


@dataclass(frozen=True, slots=True)
class PriceRange:
    """One segment of a market's tick grid: prices in [start, end] on multiples of ``step``."""

    start: Price
    end: Price
    step: Price

    def __post_init__(self) -> None:
        if self.step <= 0 or self.start > self.end:
            raise ValueError(f"invalid price range {self}")


LINEAR_CENT = (PriceRange(0, ONE_DOLLAR, 100),)
TAPERED_DECI_CENT = (
    PriceRange(0, 1_000, 10),
    PriceRange(1_000, 9_000, 100),
    PriceRange(9_000, ONE_DOLLAR, 10),
)
DECI_CENT = (PriceRange(0, ONE_DOLLAR, 10),)
PRICE_LEVEL_STRUCTURES: dict[str, tuple[PriceRange, ...]] = {
    "linear_cent": LINEAR_CENT,
    "tapered_deci_cent": TAPERED_DECI_CENT,
    "deci_cent": DECI_CENT,
}


@dataclass(frozen=True, slots=True)
class MarketRules:
    ticker: str
    status: MarketStatus
    close_time_ms: TsMs
    price_ranges: tuple[PriceRange, ...] = LINEAR_CENT
    price_level_structure: str = "linear_cent"
    fractional_trading: bool = False
    event_ticker: str = ""
    result: str = ""

    def __post_init__(self) -> None:
        if not self.price_ranges:
            raise ValueError(f"market {self.ticker} has no price ranges")


class Level(NamedTuple):
    """One price level of a book. A named tuple rather than a dataclass: books are read and
    compared every cycle for every market, and tuple construction and equality run in C
    (docs/architecture.md#hot-values)."""

    price: Price
    count: Count  # type: ignore[assignment]  # the field hides tuple.count, which no one needs


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A YES-frame book. ``bids`` best first (descending), ``asks`` best first (ascending)."""

    ticker: str
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    @property
    def best_bid(self) -> Price | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Price | None:
        return self.asks[0].price if self.asks else None


@dataclass(frozen=True, slots=True)
class PublicTrade:
    trade_id: str
    ticker: str
    price: Price
    count: Count
    taker_side: Side
    ts_ms: TsMs


@dataclass(frozen=True, slots=True)
class RestingOrder:
    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    price: Price
    remaining: Count
    filled: Count = 0
    status: OrderStatus = OrderStatus.RESTING
    created_ms: TsMs = 0
    order_group_id: str = ""
    expires_ms: TsMs = 0  # when the exchange cancels it unless renewed; 0: it never expires


@dataclass(frozen=True, slots=True)
class Fill:
    """One of our executions. ``side`` is the book side of our order; ``price`` is YES-frame."""

    fill_id: str
    order_id: str
    ticker: str
    side: Side
    price: Price
    count: Count
    fee: Micros
    is_taker: bool
    ts_ms: TsMs


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    """The exchange's view of one market position (signed: +YES / -NO)."""

    ticker: str
    position: Count
    exposure: Micros = 0
    realized_pnl: Micros = 0
    fees_paid: Micros = 0
    updated_ms: TsMs = 0  # when it last changed (its last fill), 0 when the exchange did not say


@dataclass(frozen=True, slots=True)
class Balance:
    balance: Micros
    portfolio_value: Micros
    updated_ts_ms: TsMs = 0  # the start of the moment the balance is as of (0: not said)
    updated_ts_precision_ms: int = 1  # how long that moment lasts: 1000 when said in seconds


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    resume_ms: TsMs | None = None  # the exchange's estimate of when trading resumes, if paused

    @property
    def trading(self) -> bool:
        return self.exchange_active and self.trading_active


@dataclass(frozen=True, slots=True)
class Settlement:
    ticker: str
    result: str  # yes | no | void | scalar
    settled_ms: TsMs


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order as dora wants it sent (V2 CreateOrder)."""

    ticker: str
    side: Side
    price: Price
    count: Count
    client_order_id: str
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = True
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS
    expiration_s: int | None = None
    cancel_order_on_pause: bool = True
    reduce_only: bool = False
    order_group_id: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.price < ONE_DOLLAR:
            raise ValueError(f"price {self.price} outside (0, {ONE_DOLLAR})")
        if self.count <= 0:
            raise ValueError(f"count must be positive, got {self.count}")


class PlaceStatus(StrEnum):
    PLACED = "placed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # response lost: reconcile decides by client_order_id


@dataclass(frozen=True, slots=True)
class PlaceResult:
    request: OrderRequest
    status: PlaceStatus
    order_id: str = ""
    filled: Count = 0
    remaining: Count = 0
    ts_ms: TsMs = 0
    error_code: str = ""
    error_message: str = ""


class CancelStatus(StrEnum):
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"  # already gone: the caller treats it as done
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CancelResult:
    order_id: str
    status: CancelStatus
    reduced_by: Count = 0
    ts_ms: TsMs = 0  # the exchange's time of the answer; 0 when it gave none
    client_order_id: str = ""
    error_code: str = ""
    error_message: str = ""
    after_lost_answer: bool = False  # NOT_FOUND on a retry of an attempt whose answer was lost


@dataclass(frozen=True, slots=True)
class DecreaseResult:
    order_id: str
    status: CancelStatus
    remaining: Count = 0
    ts_ms: TsMs = 0
    error_code: str = ""
    error_message: str = ""


class RenewStatus(StrEnum):
    """How an expiry-only amend (a renewal, :mod:`dora.core.renewal`) ended."""

    RENEWED = "renewed"
    UNKNOWN = "unknown"  # the answer was lost: it may have applied
    NOT_SENT = "not_sent"  # it never reached the exchange (connection, 429, stop budget)
    NOT_FOUND = "not_found"  # 404: the order is gone, or the exchange has no such call
    CONFLICT = "conflict"  # 409: the order or its market cannot change now (closed, paused)
    REJECTED = "rejected"  # 400/422: the request was not accepted as sent
    UNSUPPORTED = "unsupported"  # the exchange refuses the call itself (retired, not allowed)


@dataclass(frozen=True, slots=True)
class RenewResult:
    order_id: str
    status: RenewStatus
    expires_ms: TsMs = 0  # the expiry asked for
    ts_ms: TsMs = 0  # the exchange's time of the answer; 0 when it gave none
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class OrderGroup:
    group_id: str
    contracts_limit: Count
    auto_cancel_enabled: bool
    order_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class QueuePosition:
    order_id: str
    ticker: str
    ahead: Count


@dataclass(frozen=True, slots=True)
class PositionState:
    """dora's own book of one market position, built from fills (and settlements).

    ``open_cost`` is the cash paid for the open long lot (net > 0) or received for the open short
    lot (net < 0); the average entry price is derived from it, so no rounding accumulates.
    ``opened_ms`` is when the open lot was opened (its first fill, or when dora first saw it if it
    came from elsewhere); ``last_reduced_ms`` is the time of the last fill that made it smaller.
    Both are 0 when unknown. The stuck-position rule and the health checks read them.
    """

    ticker: str
    net: Count = 0
    open_cost: Micros = 0
    realized_pnl: Micros = 0  # net of fees
    fees_paid: Micros = 0
    settled: bool = False
    opened_ms: TsMs = 0
    last_reduced_ms: TsMs = 0


@dataclass(frozen=True, slots=True)
class RiskState:
    daily_pnl: Micros = 0  # realized P&L (net of fees) since the start of ``day``
    day: str = ""  # the UTC trading day (YYYY-MM-DD) that daily_pnl belongs to
    trading_halted: bool = False
    halt_reason: str = ""
    last_fill_ts_ms: TsMs = 0
