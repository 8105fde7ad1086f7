"""Authenticated reads: orders, queue positions, fills, positions, balance, settlements.

Orders, fills, positions and balance honour the read-lag knob (state as of ``lag_ms`` ago).
Query timestamps (``min_ts``/``max_ts``) are Unix seconds; ``max_ts`` covers its whole second.
"""

from __future__ import annotations

from dora.core.models import OrderStatus, TsMs
from dora.sim.engine.records import SimFill, SimOrder, SimPosition, SimSettlement
from dora.sim.http.context import Route, RouteKind, SimContext
from dora.sim.http.http_types import ApiError, Query, Request, Response, invalid, paginate
from dora.sim.http.wire import (
    balance_json,
    event_positions_json,
    fill_json,
    market_position_json,
    order_json,
    queue_position_json,
    settlement_json,
    single_queue_position_json,
)
from dora.sim.http.wire_parse import check_account_query

_COUNT_FILTERS = frozenset({"position", "total_traded"})


def time_window_ms(query: Query) -> tuple[TsMs | None, TsMs | None]:
    min_s, max_s = query.integer("min_ts"), query.integer("max_ts")
    return (
        None if min_s is None else min_s * 1000,
        None if max_s is None else max_s * 1000 + 999,
    )


def _order_status(query: Query) -> OrderStatus | None:
    raw = query.text("status")
    if raw is None:
        return None
    try:
        return OrderStatus(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in OrderStatus)
        raise invalid(f"status must be one of {allowed}; got {raw!r}") from None


def _tickers_of_events(ctx: SimContext, query: Query) -> set[str] | None:
    events = query.items("event_ticker")
    if not events:
        return None
    return {m.ticker for m in ctx.engine.markets() if m.event_ticker in events}


def list_orders(ctx: SimContext, request: Request) -> Response:
    query = request.query
    check_account_query(query)
    min_ms, max_ms = time_window_ms(query)
    orders = ctx.engine.orders(
        request.user_id, as_of_ms=ctx.as_of_ms(), ticker=query.text("ticker"),
        status=_order_status(query), min_ts_ms=min_ms, max_ts_ms=max_ms,
    )
    in_events = _tickers_of_events(ctx, query)
    if in_events is not None:
        orders = [o for o in orders if o.ticker in in_events]
    page, cursor = paginate(orders, _order_key, query)
    return Response(200, {"orders": [order_json(o) for o in page], "cursor": cursor})


def _order_key(order: SimOrder) -> tuple[int, str]:
    return (-order.created_ms, order.order_id)


def get_order(ctx: SimContext, request: Request) -> Response:
    check_account_query(request.query)
    order = ctx.engine.order(request.user_id, request.params["order_id"], as_of_ms=ctx.as_of_ms())
    return Response(200, {"order": order_json(order)})


def queue_positions(ctx: SimContext, request: Request) -> Response:
    tickers = request.query.items("market_tickers")
    in_events = _tickers_of_events(ctx, request.query)
    if in_events is not None:
        tickers.extend(sorted(in_events - set(tickers)))
    if not tickers:
        raise invalid("market_tickers or event_ticker is required")
    found = ctx.engine.queue_positions(request.user_id, tickers)
    return Response(
        200, {"queue_positions": [queue_position_json(o, t, ahead) for o, t, ahead in found]}
    )


def queue_position(ctx: SimContext, request: Request) -> Response:
    order_id = request.params["order_id"]
    order = ctx.engine.order(request.user_id, order_id)
    for found_id, _, ahead in ctx.engine.queue_positions(request.user_id, [order.ticker]):
        if found_id == order_id:
            return Response(200, single_queue_position_json(ahead))
    raise ApiError(404, "not_found", f"order {order_id} is not resting")


def list_fills(ctx: SimContext, request: Request) -> Response:
    query = request.query
    check_account_query(query)
    min_ms, max_ms = time_window_ms(query)
    fills = ctx.engine.fills(
        request.user_id, as_of_ms=ctx.as_of_ms(), ticker=query.text("ticker"),
        order_id=query.text("order_id"), min_ts_ms=min_ms, max_ts_ms=max_ms,
    )
    page, cursor = paginate(fills, _fill_key, query)
    return Response(200, {"fills": [fill_json(f) for f in page], "cursor": cursor})


def _fill_key(fill: SimFill) -> tuple[int, str]:
    return (-fill.ts_ms, fill.fill_id)


def list_positions(ctx: SimContext, request: Request) -> Response:
    query = request.query
    check_account_query(query)
    if query.text("settlement_status") not in (None, "unsettled"):
        raise invalid("the simulator reports unsettled positions only")
    positions = ctx.engine.positions(
        request.user_id, as_of_ms=ctx.as_of_ms(), ticker=query.text("ticker")
    )
    positions = _filter_positions(ctx, query, positions)
    page, cursor = paginate(positions, _position_key, query)
    event_of = {m.ticker: m.event_ticker for m in ctx.engine.markets()}
    return Response(200, {
        "market_positions": [market_position_json(p) for p in page],
        "event_positions": event_positions_json(positions, event_of),
        "cursor": cursor,
    })


def _filter_positions(
    ctx: SimContext, query: Query, positions: list[SimPosition]
) -> list[SimPosition]:
    filters = set(query.items("count_filter"))
    if filters - _COUNT_FILTERS:
        raise invalid(f"count_filter must be a comma list of {', '.join(sorted(_COUNT_FILTERS))}")
    if "position" in filters:
        positions = [p for p in positions if p.position != 0]
    if "total_traded" in filters:
        positions = [p for p in positions if p.total_traded != 0]
    in_events = _tickers_of_events(ctx, query)
    if in_events is not None:
        positions = [p for p in positions if p.ticker in in_events]
    return positions


def _position_key(position: SimPosition) -> tuple[str]:
    return (position.ticker,)


def get_balance(ctx: SimContext, request: Request) -> Response:
    check_account_query(request.query)
    return Response(200, balance_json(ctx.engine.balance(request.user_id, as_of_ms=ctx.as_of_ms())))


def list_settlements(ctx: SimContext, request: Request) -> Response:
    query = request.query
    check_account_query(query)
    min_ms, max_ms = time_window_ms(query)
    ticker, events = query.text("ticker"), query.items("event_ticker")
    settlements = [
        s for s in ctx.engine.settlements(request.user_id)
        if (ticker is None or s.ticker == ticker)
        and (not events or s.event_ticker in events)
        and (min_ms is None or s.settled_ms >= min_ms)
        and (max_ms is None or s.settled_ms <= max_ms)
    ]
    page, cursor = paginate(settlements, _settlement_key, query)
    return Response(200, {"settlements": [settlement_json(s) for s in page], "cursor": cursor})


def _settlement_key(settlement: SimSettlement) -> tuple[int, str]:
    return (-settlement.settled_ms, settlement.ticker)


ROUTES = (
    Route("GET", "/portfolio/orders", list_orders, RouteKind.USER_READ),
    Route("GET", "/portfolio/orders/queue_positions", queue_positions, RouteKind.USER_READ),
    Route("GET", "/portfolio/orders/{order_id}", get_order, RouteKind.USER_READ),
    Route("GET", "/portfolio/orders/{order_id}/queue_position", queue_position,
          RouteKind.USER_READ),
    Route("GET", "/portfolio/fills", list_fills, RouteKind.USER_READ),
    Route("GET", "/portfolio/positions", list_positions, RouteKind.USER_READ),
    Route("GET", "/portfolio/balance", get_balance, RouteKind.USER_READ),
    Route("GET", "/portfolio/settlements", list_settlements, RouteKind.USER_READ),
)
