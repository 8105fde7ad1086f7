"""Item shapes in ``dora_state`` and ``dora_trade_log``, in both directions.

The shapes are the ones the predecessor's dashboard and manager read (money in dollars and sizes in
contracts, as exact Decimals), plus the exact fields dora needs to restore itself without rounding
(``open_cost_micros``, ``fees_paid``, ``settled``, ``day``, ``last_fill_ts_ms``, a position's
``opened_ts_ms`` / ``last_reduced_ts_ms``, and the balance's ``promised`` / ``free``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from dora.core.ledger import CashView
from dora.core.models import Balance, Fill, PositionState, RestingOrder, RiskState, Side, TsMs
from dora.core.timefmt import iso_ms, parse_iso_ms, utc_date
from dora.core.units import (
    PRICE_SCALE,
    Count,
    Micros,
    count_to_decimal,
    micros_to_decimal,
    price_to_decimal,
)
from dora.store.codec import count_from_item, int_from_item, micros_from_item
from dora.store.tables import TRADE_SORT_KEY

POSITIONS = "positions"
RISK_STATE = "risk_state"
OPEN_ORDERS = "open_orders"
BALANCE = "balance"
API_ERRORS = "api_errors"
RECENT_FILLS = "recent_fills"
GLOBAL_CONFIG = "global_config"
VERSIONED_KEYS = (POSITIONS, RISK_STATE, OPEN_ORDERS, BALANCE, API_ERRORS, RECENT_FILLS)

MAX_RECENT_FILLS = 5_000  # newest kept; bounds the item far below DynamoDB's 400 KB
AVG_PRICE_QUANTUM = Decimal("0.000001")
ORDER_TIF = "good_till_canceled"


@dataclass(frozen=True, slots=True)
class ApiErrorRecord:
    """Error counters for one endpoint or market, as the dashboard shows them."""

    count: int
    last_error_ms: TsMs
    last_error_code: str = ""
    last_status_code: int | None = None
    last_error_msg: str = ""

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"error count must not be negative, got {self.count}")


def book_side_word(side: Side) -> str:
    """The predecessor's vocabulary: a bid buys YES ("yes"), an ask buys NO ("no")."""
    return "yes" if side is Side.BID else "no"


# -- positions ------------------------------------------------------------------------------------
def avg_price_dollars(position: PositionState) -> Decimal:
    """Average entry of the open lot in dollars (YES frame), 0 when flat. Display only."""
    if position.net == 0:
        return Decimal(0)
    per_contract = Decimal(abs(position.open_cost)) / Decimal(abs(position.net)) / PRICE_SCALE
    return per_contract.quantize(AVG_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def positions_body(positions: Mapping[str, PositionState], now_ms: TsMs) -> dict[str, Any]:
    """Every position that holds contracts or cost. Flat ones are left out, so the item grows
    with the open positions, not with every market ever traded (DynamoDB refuses items over
    400 KB). PositionState has no timestamp to keep recent flat ones by, and none is needed: a
    missing position reads back as flat, and a flat one's realized P&L is already in
    ``daily_pnl`` and the trade log. Settled positions are flat too; their flag only makes the
    bot ignore a fill listed after its market's settlement, and fills are listed long before."""
    return {
        "positions": {
            ticker: _position_map(p) for ticker, p in sorted(positions.items()) if not is_flat(p)
        },
        "last_updated": iso_ms(now_ms),
    }


def is_flat(position: PositionState) -> bool:
    return position.net == 0 and position.open_cost == 0


def _position_map(position: PositionState) -> dict[str, Any]:
    avg = avg_price_dollars(position)
    return {
        "net_yes_qty": count_to_decimal(position.net),
        "avg_buy_price": avg if position.net > 0 else Decimal(0),
        "avg_sell_price": avg if position.net < 0 else Decimal(0),
        "realized_pnl": micros_to_decimal(position.realized_pnl),
        "open_cost_micros": position.open_cost,
        "fees_paid": micros_to_decimal(position.fees_paid),
        "settled": position.settled,
        **_age_fields(position),
    }


def _age_fields(position: PositionState) -> dict[str, int]:
    """The lot's age, each only when known: an item holds more open positions without zeros."""
    ages = {"opened_ts_ms": position.opened_ms, "last_reduced_ts_ms": position.last_reduced_ms}
    return {name: value for name, value in ages.items() if value}


def parse_positions(item: Mapping[str, Any] | None) -> dict[str, PositionState]:
    entries = (item or {}).get("positions") or {}
    return {str(ticker): _parse_position(str(ticker), m) for ticker, m in entries.items()}


def _parse_position(ticker: str, entry: Mapping[str, Any]) -> PositionState:
    net = count_from_item(entry.get("net_yes_qty"))
    if "open_cost_micros" in entry:
        open_cost = int_from_item(entry["open_cost_micros"])
    else:  # an item the predecessor wrote: rebuild the lot's cost from its average price
        avg = entry.get("avg_buy_price" if net > 0 else "avg_sell_price") or 0
        open_cost = int((Decimal(avg) * abs(net) * PRICE_SCALE).to_integral_value(ROUND_HALF_EVEN))
    return PositionState(
        ticker=ticker,
        net=net,
        open_cost=open_cost,
        realized_pnl=micros_from_item(entry.get("realized_pnl")),
        fees_paid=micros_from_item(entry.get("fees_paid")),
        settled=bool(entry.get("settled", False)),
        opened_ms=int_from_item(entry.get("opened_ts_ms")),  # absent in older items: unknown
        last_reduced_ms=int_from_item(entry.get("last_reduced_ts_ms")),
    )


# -- risk state -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ShardFigures:
    """What one shard adds to the account-wide limits (docs/architecture.md#shards): its markets'
    worst-case exposure and unrealized P&L as of its last save, beside its risk state's realized
    daily P&L."""

    exposure: Count = 0
    unrealized: Micros = 0
    daily_pnl: Micros = 0
    day: str = ""
    saved_ms: TsMs = 0


def parse_shard_figures(item: Mapping[str, Any] | None) -> ShardFigures:
    risk = parse_risk(item)
    item = item or {}
    saved = item.get("last_updated")
    return ShardFigures(
        exposure=count_from_item(item.get("exposure_contracts")),
        unrealized=micros_from_item(item.get("unrealized_pnl")),
        daily_pnl=risk.daily_pnl, day=risk.day,
        saved_ms=parse_iso_ms(saved) if isinstance(saved, str) and saved else 0,
    )


def risk_body(risk: RiskState, now_ms: TsMs, figures: ShardFigures | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "daily_pnl": micros_to_decimal(risk.daily_pnl),
        "day": risk.day,
        "trading_halted": risk.trading_halted,
        "halt_reason": risk.halt_reason,
        "last_fill_ts_ms": risk.last_fill_ts_ms,
        "last_updated": iso_ms(now_ms),
    }
    if risk.last_fill_ts_ms:
        body["last_fill_timestamp"] = iso_ms(risk.last_fill_ts_ms)
    if figures is not None:
        body["exposure_contracts"] = count_to_decimal(figures.exposure)
        body["unrealized_pnl"] = micros_to_decimal(figures.unrealized)
    return body


def parse_risk(item: Mapping[str, Any] | None) -> RiskState:
    if not item:
        return RiskState()
    last_fill = int_from_item(item.get("last_fill_ts_ms"))
    if not last_fill and isinstance(item.get("last_fill_timestamp"), str):
        last_fill = parse_iso_ms(item["last_fill_timestamp"])
    return RiskState(
        daily_pnl=micros_from_item(item.get("daily_pnl")),
        day=str(item.get("day") or ""),
        trading_halted=bool(item.get("trading_halted", False)),
        halt_reason=str(item.get("halt_reason") or ""),
        last_fill_ts_ms=last_fill,
    )


# -- open orders, balance, api errors, recent fills -----------------------------------------------
def open_orders_body(
    orders: Sequence[RestingOrder], decision_ids: Mapping[str, str], now_ms: TsMs
) -> dict[str, Any]:
    """``decision_ids`` is keyed by order id; the order's market is the fallback key."""
    return {
        "orders": {o.order_id: _order_map(o, decision_ids) for o in orders},
        "last_updated": iso_ms(now_ms),
    }


def _order_map(order: RestingOrder, decision_ids: Mapping[str, str]) -> dict[str, Any]:
    return {
        "market_id": order.ticker,
        "side": book_side_word(order.side),
        "type": order.side.value,
        "price": price_to_decimal(order.price),
        "size": count_to_decimal(order.remaining),
        "filled_size": count_to_decimal(order.filled),
        "decision_id": decision_ids.get(order.order_id) or decision_ids.get(order.ticker, ""),
        "client_order_id": order.client_order_id,
        "status": order.status.value,
        "created_at": iso_ms(order.created_ms) if order.created_ms else "",
        "tif": ORDER_TIF,
        "order_group_id": order.order_group_id,
    }


def balance_body(balance: Balance, now_ms: TsMs, cash: CashView | None = None) -> dict[str, Any]:
    """The predecessor's ``balance``/``payout``/``total``, and beside them the promised-cash
    ledger's view: ``promised`` (places the balance does not show yet), ``released`` (cancels
    it does not show yet) and ``free`` (what dora may still commit)."""
    body: dict[str, Any] = {
        "balance": micros_to_decimal(balance.balance),
        "payout": micros_to_decimal(balance.portfolio_value),
        "total": micros_to_decimal(balance.balance + balance.portfolio_value),
        "last_updated": iso_ms(now_ms),
    }
    if balance.updated_ts_ms:
        body["exchange_updated_at"] = iso_ms(balance.updated_ts_ms)
    if cash is not None:
        body["promised"] = micros_to_decimal(cash.promised)
        body["released"] = micros_to_decimal(cash.released)
        body["free"] = micros_to_decimal(cash.free)
    return body


def api_errors_body(errors: Mapping[str, ApiErrorRecord], now_ms: TsMs) -> dict[str, Any]:
    return {
        "errors": {
            name: {
                "count": e.count,
                "last_error": iso_ms(e.last_error_ms),
                "last_error_code": e.last_error_code,
                "last_status_code": e.last_status_code,
                "last_error_msg": e.last_error_msg,
            }
            for name, e in errors.items()
        },
        "last_updated": iso_ms(now_ms),
    }


def recent_fills_body(seen: Mapping[str, TsMs], now_ms: TsMs) -> dict[str, Any]:
    newest = sorted(seen.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:MAX_RECENT_FILLS]
    return {"fills": dict(newest), "last_updated": iso_ms(now_ms)}


def parse_recent_fills(item: Mapping[str, Any] | None) -> dict[str, TsMs]:
    fills = (item or {}).get("fills") or {}
    return {str(fill_id): int_from_item(ts) for fill_id, ts in fills.items()}


# -- trade log ------------------------------------------------------------------------------------
def trade_row(fill: Fill, realized: Micros) -> dict[str, Any]:
    """One row per fill. The sort key carries the fill id, so two fills of one order at the same
    instant never collide, and the same fill always maps to the same key."""
    ts = iso_ms(fill.ts_ms)
    price, size = price_to_decimal(fill.price), count_to_decimal(fill.count)
    return {
        "date": utc_date(fill.ts_ms),
        TRADE_SORT_KEY: f"{ts}#{fill.order_id}#{fill.fill_id}",
        "timestamp": ts,
        "market_id": fill.ticker,
        "side": book_side_word(fill.side),
        "type": fill.side.value,
        "price": price,
        "size": size,
        "fill_price": price,
        "fill_size": size,
        "status": "filled",
        "pnl_realized": micros_to_decimal(realized),
        "fees": micros_to_decimal(fill.fee),
        "order_id": fill.order_id,
        "fill_id": fill.fill_id,
        "fill_timestamp": ts,
        "is_taker": fill.is_taker,
    }
