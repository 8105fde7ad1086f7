"""V2 order entry under ``/portfolio/events/orders…``, and the retired V1 writes (410)."""

from __future__ import annotations

from dora.core.models import TsMs
from dora.sim.engine.records import EngineError, SimOrder
from dora.sim.http.context import Route, RouteKind, SimContext
from dora.sim.http.counters import CancelAnswer
from dora.sim.http.http_types import ApiError, Request, Response, invalid
from dora.sim.http.knobs import AmendExpiry
from dora.sim.http.wire import (
    FillSummary,
    amend_response,
    batch_cancel_error,
    batch_cancel_item,
    batch_create_error,
    batch_create_item,
    cancel_response,
    create_response,
    decrease_response,
)
from dora.sim.http.wire_parse import (
    check_account_query,
    parse_amend,
    parse_batch_cancel,
    parse_batch_create,
    parse_create_order,
    parse_decrease,
)

ORDERS = "/portfolio/events/orders"
CANCEL_TEMPLATES = frozenset({f"{ORDERS}/{{order_id}}", f"{ORDERS}/batched"})
CREATE_TEMPLATES = frozenset({ORDERS, f"{ORDERS}/batched"})


def _fills_of(ctx: SimContext, user_id: str, order: SimOrder) -> FillSummary:
    if order.filled <= 0:
        return FillSummary()
    return FillSummary.of(ctx.engine.fills(user_id, order_id=order.order_id))


def create_order(ctx: SimContext, request: Request) -> Response:
    order_request = parse_create_order(request.json_object())
    order = ctx.engine.create_order(request.user_id, order_request)
    return Response(201, create_response(order, _fills_of(ctx, request.user_id, order)))


def batch_create_orders(ctx: SimContext, request: Request) -> Response:
    results = []
    for item in parse_batch_create(request.json_object()):
        if item.order is None:
            error = item.error or invalid("bad order")
            results.append(batch_create_error(item.client_order_id, error.code, error.message))
            continue
        try:
            order = ctx.engine.create_order(request.user_id, item.order)
        except EngineError as exc:
            results.append(batch_create_error(item.client_order_id, exc.code, exc.message))
        else:
            results.append(batch_create_item(order, _fills_of(ctx, request.user_id, order)))
    return Response(201, {"orders": results})


def _cancel(ctx: SimContext, user_id: str, order_id: str) -> tuple[SimOrder, int]:
    try:
        return ctx.engine.cancel_order(user_id, order_id)
    except EngineError as exc:
        if exc.status == 404:
            ctx.counters.count_cancel_not_found()
        raise


def cancel_order(ctx: SimContext, request: Request) -> Response:
    check_account_query(request.query)
    order_id = request.params["order_id"]
    try:
        order, reduced_by = _cancel(ctx, request.user_id, order_id)
    except EngineError as exc:  # an error answer is never lost: journal it here
        ctx.counters.record_cancel_answers([CancelAnswer(order_id, exc.code, True, ctx.now_ms())])
        raise
    return Response(200, cancel_response(order, reduced_by, ctx.now_ms()))


def batch_cancel_orders(ctx: SimContext, request: Request) -> Response:
    results = []
    for item in parse_batch_cancel(request.json_object()):
        now_ms = ctx.now_ms()
        if item.error is not None:
            error = item.error
            results.append(batch_cancel_error(item.order_id, error.code, error.message, now_ms))
            continue
        try:
            order, reduced_by = _cancel(ctx, request.user_id, item.order_id)
        except EngineError as exc:
            results.append(batch_cancel_error(item.order_id, exc.code, exc.message, now_ms))
        else:
            results.append(batch_cancel_item(order, reduced_by, now_ms))
    return Response(200, {"orders": results})


def cancel_answers(
    request: Request, response: Response, *, delivered: bool, ts_ms: TsMs
) -> list[CancelAnswer]:
    """What a successful cancel request answered, order by order (for the cancel journal)."""
    if request.method != "DELETE" or response.status >= 300 or not isinstance(response.body, dict):
        return []
    items = response.body.get("orders")
    if items is None:  # a single cancel
        return [CancelAnswer(str(response.body["order_id"]), "cancelled", delivered, ts_ms)]
    return [
        CancelAnswer(str(item["order_id"]), (item.get("error") or {}).get("code", "cancelled"),
                     delivered, ts_ms)
        for item in items
    ]


def created_order_ids(request: Request, response: Response) -> list[str]:
    """The orders a successful create request made (for the lost-create journal)."""
    if request.method != "POST" or response.status >= 300 or not isinstance(response.body, dict):
        return []
    items = response.body.get("orders")
    if items is None:  # a single create
        return [str(response.body["order_id"])]
    return [str(item["order_id"]) for item in items if item.get("error") is None]


def cancel_all_orders(ctx: SimContext, request: Request) -> Response:
    check_account_query(request.query)
    ctx.engine.cancel_all(request.user_id)
    return Response(204)


def amend_order(ctx: SimContext, request: Request) -> Response:
    support = ctx.knobs.values.amend_expiry
    if support is AmendExpiry.NO_ENDPOINT:
        raise ApiError(404, "not_found", f"no such endpoint: {request.path}")
    amend = parse_amend(request.json_object())
    if amend.expiration_s is not None and support is AmendExpiry.REFUSED:
        raise invalid("expiration_time cannot be changed by amend")
    order_id = request.params["order_id"]
    if amend.client_order_id:
        current = ctx.engine.order(request.user_id, order_id)
        if current.client_order_id != amend.client_order_id:
            raise invalid("client_order_id does not match the order being amended")
    order = ctx.engine.amend_order(
        request.user_id, order_id, ticker=amend.ticker, side=amend.side, price=amend.price,
        count=amend.count, updated_client_order_id=amend.updated_client_order_id,
        expiration_s=amend.expiration_s,
    )
    return Response(200, amend_response(order, _fills_of(ctx, request.user_id, order)))


def decrease_order(ctx: SimContext, request: Request) -> Response:
    reduce_by, reduce_to = parse_decrease(request.json_object())
    order = ctx.engine.decrease_order(
        request.user_id, request.params["order_id"], reduce_by=reduce_by, reduce_to=reduce_to
    )
    return Response(200, decrease_response(order))


def retired_v1_endpoint(ctx: SimContext, request: Request) -> Response:
    raise ApiError(
        410,
        "deprecated_v1_order_endpoint",
        f"{request.method} /trade-api/v2{request.template} is retired; "
        f"use the V2 endpoints under {ORDERS}",
    )


ROUTES = (
    Route("POST", ORDERS, create_order, RouteKind.WRITE),
    Route("POST", f"{ORDERS}/batched", batch_create_orders, RouteKind.WRITE, batch=True),
    Route("DELETE", f"{ORDERS}/batched", batch_cancel_orders, RouteKind.WRITE, batch=True),
    Route("DELETE", f"{ORDERS}/{{order_id}}", cancel_order, RouteKind.WRITE),
    Route("DELETE", ORDERS, cancel_all_orders, RouteKind.WRITE),
    Route("POST", f"{ORDERS}/{{order_id}}/amend", amend_order, RouteKind.WRITE),
    Route("POST", f"{ORDERS}/{{order_id}}/decrease", decrease_order, RouteKind.WRITE),
    Route("POST", "/portfolio/orders", retired_v1_endpoint, RouteKind.WRITE),
    Route("POST", "/portfolio/orders/batched", retired_v1_endpoint, RouteKind.WRITE),
    Route("DELETE", "/portfolio/orders/batched", retired_v1_endpoint, RouteKind.WRITE),
    Route("DELETE", "/portfolio/orders/{order_id}", retired_v1_endpoint, RouteKind.WRITE),
    Route("POST", "/portfolio/orders/{order_id}/amend", retired_v1_endpoint, RouteKind.WRITE),
    Route("POST", "/portfolio/orders/{order_id}/decrease", retired_v1_endpoint, RouteKind.WRITE),
)
