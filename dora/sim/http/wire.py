"""Engine records -> Kalshi V2 JSON (Kalshi's V2 schema; enumerations:
docs/kalshi-notes.md#enumerations). With ``wire_parse`` the only sim modules that know Kalshi field
names. Pure: no I/O, no clock.

Formats: prices ``*_dollars`` with 4 decimals, counts ``*_fp`` with 2, money amounts with 4
decimals when exact at $0.0001 and 6 otherwise (Kalshi's FixedPointDollars allows up to 6),
times RFC 3339 UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dora.core.models import Side, TsMs
from dora.core.units import (
    ONE_DOLLAR,
    Count,
    Micros,
    Price,
    format_count,
    format_fixed,
    format_micros,
    format_price,
    micros_to_cents_floor,
)
from dora.sim.engine.records import (
    SimBalance,
    SimFill,
    SimGroup,
    SimOrder,
    SimPosition,
    SimSettlement,
)

JsonObject = dict[str, Any]
SERVICE = "exchange"
EXCHANGE_INDEX = 0
SUBACCOUNT = 0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rfc3339(ts_ms: TsMs) -> str:
    """Epoch ms -> ``2026-01-01T00:00:00Z`` (milliseconds shown only when non-zero)."""
    moment = _EPOCH + timedelta(milliseconds=ts_ms)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = ts_ms % 1000
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def money(amount: Micros) -> str:
    """Micro-dollars -> dollar string, exact: 4 decimals when possible, else 6."""
    if amount % 100 == 0:
        return format_fixed(amount // 100, 4)
    return format_micros(amount)


def error_body(code: str, message: str) -> JsonObject:
    return {"error": error_object(code, message)}


def error_object(code: str, message: str) -> JsonObject:
    return {"code": code, "message": message, "service": SERVICE}


RATE_LIMITED_BODY: JsonObject = {"error": "too many requests"}


def outcome_side(side: Side) -> str:
    """A bid buys YES; an ask sells YES, i.e. buys NO."""
    return "yes" if side is Side.BID else "no"


# ---------------------------------------------------------------------------- orders


def order_json(order: SimOrder) -> JsonObject:
    body: JsonObject = {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "client_order_id": order.client_order_id,
        "ticker": order.ticker,
        "side": outcome_side(order.side),
        "action": "buy",
        "outcome_side": outcome_side(order.side),
        "book_side": order.side.value,
        "type": "limit",
        "status": order.status.value,
        "yes_price_dollars": format_price(order.price),
        "no_price_dollars": format_price(ONE_DOLLAR - order.price),
        "fill_count_fp": format_count(order.filled),
        "remaining_count_fp": format_count(order.remaining),
        "initial_count_fp": format_count(order.initial),
        "taker_fill_cost_dollars": money(order.taker_fill_cost),
        "maker_fill_cost_dollars": money(order.maker_fill_cost),
        "taker_fees_dollars": money(order.taker_fees),
        "maker_fees_dollars": money(order.maker_fees),
        "created_time": rfc3339(order.created_ms),
        "last_update_time": rfc3339(order.updated_ms),
        "self_trade_prevention_type": order.self_trade_prevention.value,
        "order_group_id": order.order_group_id or None,
        "cancel_order_on_pause": order.cancel_order_on_pause,
        "expiration_time": None,
        "subaccount_number": SUBACCOUNT,
        "exchange_index": EXCHANGE_INDEX,
    }
    if order.expiration_s is not None:
        body["expiration_time"] = rfc3339(order.expiration_s * 1000)
    return body


@dataclass(frozen=True, slots=True)
class FillSummary:
    """What an order's fills add up to, for ``average_fill_price`` / ``average_fee_paid``."""

    count: Count = 0
    notional: Micros = 0  # YES-frame price x count
    fees: Micros = 0

    @classmethod
    def of(cls, fills: Sequence[SimFill]) -> FillSummary:
        return cls(
            count=sum(f.count for f in fills),
            notional=sum(f.price * f.count for f in fills),
            fees=sum(f.fee for f in fills),
        )

    def average_price(self) -> Price:
        """YES-frame average, rounded half up to $0.0001."""
        return (2 * self.notional + self.count) // (2 * self.count)

    def average_fee_per_contract(self) -> Micros:
        """Fee per whole contract, rounded half up to a micro-dollar."""
        return (2 * self.fees * 100 + self.count) // (2 * self.count)


def _fill_averages(summary: FillSummary) -> JsonObject:
    if summary.count <= 0:
        return {}
    return {
        "average_fill_price": format_price(summary.average_price()),
        "average_fee_paid": money(summary.average_fee_per_contract()),
    }


def create_response(order: SimOrder, fills: FillSummary) -> JsonObject:
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "fill_count": format_count(order.filled),
        "remaining_count": format_count(order.remaining),
        "ts_ms": order.updated_ms,
        **_fill_averages(fills),
    }


def batch_create_item(order: SimOrder, fills: FillSummary) -> JsonObject:
    return {**create_response(order, fills), "error": None}


def batch_create_error(client_order_id: str, code: str, message: str) -> JsonObject:
    return {"client_order_id": client_order_id, "error": error_object(code, message)}


def cancel_response(order: SimOrder, reduced_by: Count, ts_ms: TsMs) -> JsonObject:
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "reduced_by": format_count(reduced_by),
        "ts_ms": ts_ms,
    }


def batch_cancel_item(order: SimOrder, reduced_by: Count, ts_ms: TsMs) -> JsonObject:
    return {**cancel_response(order, reduced_by, ts_ms), "error": None}


def batch_cancel_error(order_id: str, code: str, message: str, ts_ms: TsMs) -> JsonObject:
    return {
        "order_id": order_id,
        "reduced_by": format_count(0),
        "ts_ms": ts_ms,
        "error": error_object(code, message),
    }


def amend_response(order: SimOrder, fills: FillSummary) -> JsonObject:
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "remaining_count": format_count(order.remaining),
        "fill_count": format_count(order.filled),
        "ts_ms": order.updated_ms,
        **_fill_averages(fills),
    }


def decrease_response(order: SimOrder) -> JsonObject:
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "remaining_count": format_count(order.remaining),
        "ts_ms": order.updated_ms,
    }


def queue_position_json(order_id: str, ticker: str, ahead: Count) -> JsonObject:
    return {"order_id": order_id, "market_ticker": ticker, "queue_position_fp": format_count(ahead)}


def single_queue_position_json(ahead: Count) -> JsonObject:
    return {"queue_position_fp": format_count(ahead)}


# ---------------------------------------------------------------------------- fills, positions


def fill_json(fill: SimFill) -> JsonObject:
    return {
        "fill_id": fill.fill_id,
        "trade_id": fill.trade_id,
        "exchange_index": EXCHANGE_INDEX,
        "order_id": fill.order_id,
        "ticker": fill.ticker,
        "market_ticker": fill.ticker,
        "side": outcome_side(fill.side),
        "action": "buy",
        "outcome_side": outcome_side(fill.side),
        "book_side": fill.side.value,
        "count_fp": format_count(fill.count),
        "yes_price_dollars": format_price(fill.price),
        "no_price_dollars": format_price(ONE_DOLLAR - fill.price),
        "is_taker": fill.is_taker,
        "fee_cost": money(fill.fee),
        "created_time": rfc3339(fill.ts_ms),
        "ts": fill.ts_ms // 1000,
        "subaccount_number": SUBACCOUNT,
    }


def market_position_json(position: SimPosition) -> JsonObject:
    return {
        "ticker": position.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "position_fp": format_count(position.position),
        "market_exposure_dollars": money(position.exposure),
        "realized_pnl_dollars": money(position.realized_pnl),
        "fees_paid_dollars": money(position.fees_paid),
        "total_traded_dollars": money(position.total_traded),
        "last_updated_ts": rfc3339(position.updated_ms),
    }


def event_positions_json(
    positions: Sequence[SimPosition], event_of: dict[str, str]
) -> list[JsonObject]:
    """One EventPosition per event: sums of its markets' exposure, |position|, P&L and fees."""
    events: dict[str, list[SimPosition]] = {}
    for position in positions:
        events.setdefault(event_of.get(position.ticker, ""), []).append(position)
    return [
        {
            "event_ticker": event,
            "total_cost_dollars": money(sum(p.exposure for p in members)),
            "total_cost_shares_fp": format_count(sum(abs(p.position) for p in members)),
            "event_exposure_dollars": money(sum(p.exposure for p in members)),
            "realized_pnl_dollars": money(sum(p.realized_pnl for p in members)),
            "fees_paid_dollars": money(sum(p.fees_paid for p in members)),
        }
        for event, members in sorted(events.items())
    ]


def balance_json(balance: SimBalance) -> JsonObject:
    return {
        "balance": micros_to_cents_floor(balance.balance),
        "balance_dollars": money(balance.balance),
        "portfolio_value": micros_to_cents_floor(balance.portfolio_value),
        "updated_ts": balance.updated_ms // 1000,
        "balance_breakdown": [
            {"exchange_index": EXCHANGE_INDEX, "balance": money(balance.balance)}
        ],
    }


def settlement_json(settlement: SimSettlement) -> JsonObject:
    value_cents = {"yes": 100, "no": 0}.get(settlement.result)
    return {
        "ticker": settlement.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "event_ticker": settlement.event_ticker,
        "market_result": settlement.result,
        "yes_count_fp": format_count(settlement.yes_count),
        "yes_total_cost_dollars": money(settlement.yes_cost),
        "no_count_fp": format_count(settlement.no_count),
        "no_total_cost_dollars": money(settlement.no_cost),
        "revenue": micros_to_cents_floor(settlement.revenue),
        "settled_time": rfc3339(settlement.settled_ms),
        "fee_cost": money(0),
        "value": value_cents,
    }


# ---------------------------------------------------------------------------- exchange


def exchange_status_json(trading_active: bool, resume_ms: TsMs | None) -> JsonObject:
    return {
        "exchange_active": True,
        "trading_active": trading_active,
        "exchange_estimated_resume_time": (
            rfc3339(resume_ms) if resume_ms is not None and not trading_active else None
        ),
    }


def user_data_timestamp_json(as_of_ms: TsMs) -> JsonObject:
    return {"as_of_time": rfc3339(as_of_ms)}


# ---------------------------------------------------------------------------- groups


def group_summary_json(group: SimGroup) -> JsonObject:
    return {
        "id": group.group_id,
        "contracts_limit_fp": format_count(group.contracts_limit),
        "is_auto_cancel_enabled": group.auto_cancel_enabled,
        "exchange_index": EXCHANGE_INDEX,
    }


def group_detail_json(group: SimGroup) -> JsonObject:
    return {
        "is_auto_cancel_enabled": group.auto_cancel_enabled,
        "contracts_limit_fp": format_count(group.contracts_limit),
        "orders": list(group.order_ids),
        "exchange_index": EXCHANGE_INDEX,
    }


def group_created_json(group: SimGroup) -> JsonObject:
    return {
        "order_group_id": group.group_id,
        "subaccount": SUBACCOUNT,
        "exchange_index": EXCHANGE_INDEX,
    }
