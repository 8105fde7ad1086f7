"""Kalshi V2 JSON <-> dora types, for order entry (Kalshi's V2 schema; docs/kalshi-notes.md). Pure:
no I/O, no clock.

With :mod:`dora.exchange.wire_reads` this is the only code that knows Kalshi's JSON field names.
Parsing is strict: a missing or mistyped required field raises :class:`WireFormatError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from dora.core.errors import FatalError
from dora.core.models import (
    CancelResult,
    CancelStatus,
    DecreaseResult,
    OrderRequest,
    PlaceResult,
    PlaceStatus,
    RenewResult,
    RenewStatus,
    RestingOrder,
    TsMs,
)
from dora.core.units import Count, Price, UnitError, format_count, format_price, parse_count

T = TypeVar("T")
NOT_FOUND_CODES = frozenset({"not_found", "order_not_found", "market_not_found"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class WireFormatError(FatalError):
    """A response that does not have the shape Kalshi's schema promises."""


# ---- field access -------------------------------------------------------------------------------

def obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireFormatError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def req(o: Mapping[str, Any], name: str, kind: type[T], what: str) -> T:
    """Required field ``name`` of type ``kind`` (bool is never accepted as int)."""
    if name not in o or o[name] is None:
        raise WireFormatError(f"{what}: missing required field {name!r}")
    value = o[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireFormatError(f"{what}: field {name!r} should be {kind.__name__}, got {value!r}")
    return value


def opt(o: Mapping[str, Any], name: str, kind: type[T], what: str, default: T) -> T:
    if o.get(name) is None:
        return default
    return req(o, name, kind, what)


def items(o: Mapping[str, Any], name: str, what: str) -> list[Mapping[str, Any]]:
    return [obj(item, f"{what}.{name}[]") for item in req(o, name, list, what)]


def units(o: Mapping[str, Any], name: str, parse: Callable[[str], int], what: str) -> int:
    text = req(o, name, str, what)
    try:
        return parse(text)
    except UnitError as exc:
        raise WireFormatError(f"{what}: field {name!r}: {exc}") from exc


def opt_units(
    o: Mapping[str, Any], name: str, parse: Callable[[str], int], what: str, default: int = 0
) -> int:
    return default if o.get(name) is None else units(o, name, parse, what)


def enum(o: Mapping[str, Any], name: str, kind: Callable[[str], T], what: str) -> T:
    text = req(o, name, str, what)
    try:
        return kind(text)
    except ValueError as exc:
        raise WireFormatError(f"{what}: field {name!r} has unknown value {text!r}") from exc


def time_ms(o: Mapping[str, Any], name: str, what: str) -> TsMs:
    """An RFC 3339 timestamp field -> epoch milliseconds."""
    text = req(o, name, str, what)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WireFormatError(f"{what}: field {name!r} is not an RFC 3339 time: {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


def opt_time_ms(o: Mapping[str, Any], name: str, what: str, default: TsMs = 0) -> TsMs:
    return default if o.get(name) is None else time_ms(o, name, what)


def cursor(o: Mapping[str, Any], what: str) -> str:
    """The next page's cursor; "" means this was the last page."""
    return opt(o, "cursor", str, what, "")


# ---- errors -------------------------------------------------------------------------------------

def parse_error(body: Any, status: int) -> tuple[str, str]:
    """(code, message) from an error body, never failing: ``{"error": {"code", "message"}}``,
    ``{"error": "too many requests"}``, a bare ErrorResponse, or anything else."""
    fallback = (f"http_{status}", "")
    if not isinstance(body, Mapping):
        return fallback[0], str(body)[:200] if body else ""
    inner = body.get("error", body)
    if isinstance(inner, str):
        return fallback[0], inner
    if isinstance(inner, Mapping):
        code = inner.get("code")
        message = inner.get("message")
        return (
            code if isinstance(code, str) and code else fallback[0],
            message if isinstance(message, str) else "",
        )
    return fallback


def _item_error(item: Mapping[str, Any]) -> tuple[str, str] | None:
    error = item.get("error")
    if error is None:
        return None
    code, message = parse_error(error, 0)
    return ("unknown_error" if code == "http_0" else code), message


# ---- order entry requests -----------------------------------------------------------------------

def create_order_body(request: OrderRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticker": request.ticker,
        "side": request.side.value,
        "count": format_count(request.count),
        "price": format_price(request.price),
        "time_in_force": request.time_in_force.value,
        "self_trade_prevention_type": request.self_trade_prevention.value,
        "post_only": request.post_only,
        "reduce_only": request.reduce_only,
        "cancel_order_on_pause": request.cancel_order_on_pause,
    }
    if request.client_order_id:
        body["client_order_id"] = request.client_order_id
    if request.expiration_s is not None:
        body["expiration_time"] = request.expiration_s
    if request.order_group_id:
        body["order_group_id"] = request.order_group_id
    return body


def batch_create_body(requests: Sequence[OrderRequest]) -> dict[str, Any]:
    return {"orders": [create_order_body(r) for r in requests]}


def batch_cancel_body(order_ids: Sequence[str]) -> dict[str, Any]:
    return {"orders": [{"order_id": order_id} for order_id in order_ids]}


def amend_body(
    order: RestingOrder, price: Price, total_count: Count, expiration_s: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticker": order.ticker,
        "side": order.side.value,
        "price": format_price(price),
        "count": format_count(total_count),
    }
    if order.client_order_id:
        body["client_order_id"] = order.client_order_id
    if expiration_s is not None:
        body["expiration_time"] = expiration_s
    return body


def renew_body(order: RestingOrder, expiration_s: int) -> dict[str, Any]:
    """An expiry-only amend: the same price and the same total (filled + remaining, which fills
    do not change), so the order keeps its queue place (docs/kalshi-notes.md#order-entry)."""
    return amend_body(order, order.price, order.filled + order.remaining, expiration_s)


def decrease_body(reduce_to: Count) -> dict[str, Any]:
    return {"reduce_to": format_count(reduce_to)}


def group_limit_body(contracts_limit: Count) -> dict[str, Any]:
    return {"contracts_limit_fp": format_count(contracts_limit)}


# ---- order entry responses ----------------------------------------------------------------------

def parse_create(body: Any, request: OrderRequest) -> PlaceResult:
    what = "CreateOrderV2Response"
    o = obj(body, what)
    return PlaceResult(
        request=request,
        status=PlaceStatus.PLACED,
        order_id=req(o, "order_id", str, what),
        filled=units(o, "fill_count", parse_count, what),
        remaining=units(o, "remaining_count", parse_count, what),
        ts_ms=req(o, "ts_ms", int, what),
    )


def parse_batch_create(body: Any, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
    """One result per request, matched by client_order_id; a request the response does not
    mention is UNKNOWN (the next reconcile finds it or not)."""
    what = "BatchCreateOrdersV2Response"
    by_client_id: dict[str, Mapping[str, Any]] = {}
    for item in items(obj(body, what), "orders", what):
        client_id = opt(item, "client_order_id", str, what, "")
        by_client_id.setdefault(client_id, item)
    return [_batch_create_result(by_client_id.get(r.client_order_id), r) for r in requests]


def _batch_create_result(item: Mapping[str, Any] | None, request: OrderRequest) -> PlaceResult:
    """Every field of a batch item is optional in the schema, so one odd item is UNKNOWN on its
    own (reconcile decides) and never spoils the results of the others."""
    if item is None:
        return PlaceResult(request, PlaceStatus.UNKNOWN, error_code="missing_from_response")
    try:
        return _parse_batch_create_item(item, request)
    except WireFormatError as exc:
        return PlaceResult(request, PlaceStatus.UNKNOWN, error_code="unreadable_item",
                           error_message=str(exc))


def _parse_batch_create_item(item: Mapping[str, Any], request: OrderRequest) -> PlaceResult:
    what = "BatchCreateOrdersV2ResponseOrdersInner"
    error = _item_error(item)
    if error is not None:
        return PlaceResult(
            request, PlaceStatus.REJECTED, error_code=error[0], error_message=error[1]
        )
    filled = opt_units(item, "fill_count", parse_count, what)
    return PlaceResult(
        request=request,
        status=PlaceStatus.PLACED,
        order_id=req(item, "order_id", str, what),
        filled=filled,
        remaining=opt_units(item, "remaining_count", parse_count, what,
                            max(request.count - filled, 0)),
        ts_ms=opt(item, "ts_ms", int, what, 0),
    )


def parse_amend(body: Any, request: OrderRequest) -> PlaceResult:
    what = "AmendOrderV2Response"
    o = obj(body, what)
    return PlaceResult(
        request=request,
        status=PlaceStatus.PLACED,
        order_id=req(o, "order_id", str, what),
        filled=opt_units(o, "fill_count", parse_count, what),
        remaining=opt_units(o, "remaining_count", parse_count, what),
        ts_ms=req(o, "ts_ms", int, what),
    )


def parse_renew(body: Any, order_id: str, expires_ms: TsMs) -> RenewResult:
    what = "AmendOrderV2Response"
    o = obj(body, what)
    req(o, "order_id", str, what)  # required; an expiry-only amend leaves the order its id
    return RenewResult(
        order_id=order_id,
        status=RenewStatus.RENEWED,
        expires_ms=expires_ms,
        ts_ms=req(o, "ts_ms", int, what),
    )


def parse_cancel(body: Any) -> CancelResult:
    what = "CancelOrderV2Response"
    o = obj(body, what)
    return CancelResult(
        order_id=req(o, "order_id", str, what),
        status=CancelStatus.CANCELLED,
        reduced_by=units(o, "reduced_by", parse_count, what),
        ts_ms=req(o, "ts_ms", int, what),
        client_order_id=opt(o, "client_order_id", str, what, ""),
    )


def parse_batch_cancel(body: Any, order_ids: Sequence[str]) -> list[CancelResult]:
    """One result per order id, matched by order_id; an item whose error is not_found means the
    order is already gone (done)."""
    what = "BatchCancelOrdersV2Response"
    by_id: dict[str, Mapping[str, Any]] = {}
    for item in items(obj(body, what), "orders", what):
        by_id.setdefault(req(item, "order_id", str, what), item)
    return [_batch_cancel_result(by_id.get(order_id), order_id) for order_id in order_ids]


def _batch_cancel_result(item: Mapping[str, Any] | None, order_id: str) -> CancelResult:
    what = "BatchCancelOrdersV2ResponseOrdersInner"
    if item is None:
        return CancelResult(order_id, CancelStatus.FAILED, error_code="missing_from_response")
    error = _item_error(item)
    client_id = opt(item, "client_order_id", str, what, "")
    ts_ms = opt(item, "ts_ms", int, what, 0)  # on error items too: when the exchange said it
    if error is not None:
        status = CancelStatus.NOT_FOUND if error[0] in NOT_FOUND_CODES else CancelStatus.FAILED
        return CancelResult(
            order_id, status, ts_ms=ts_ms, client_order_id=client_id, error_code=error[0],
            error_message=error[1],
        )
    return CancelResult(
        order_id=order_id,
        status=CancelStatus.CANCELLED,
        reduced_by=units(item, "reduced_by", parse_count, what),
        ts_ms=ts_ms,
        client_order_id=client_id,
    )


def parse_decrease(body: Any) -> DecreaseResult:
    what = "DecreaseOrderV2Response"
    o = obj(body, what)
    return DecreaseResult(
        order_id=req(o, "order_id", str, what),
        status=CancelStatus.CANCELLED,
        remaining=units(o, "remaining_count", parse_count, what),
        ts_ms=req(o, "ts_ms", int, what),
    )
