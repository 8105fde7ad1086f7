"""Order groups (docs/kalshi-notes.md#order-groups)."""

from __future__ import annotations

from dora.sim.http.context import Route, RouteKind, SimContext
from dora.sim.http.http_types import Request, Response
from dora.sim.http.wire import group_created_json, group_detail_json, group_summary_json
from dora.sim.http.wire_parse import check_account_query, parse_contracts_limit

GROUPS = "/portfolio/order_groups"
GROUP = f"{GROUPS}/{{order_group_id}}"


def create_group(ctx: SimContext, request: Request) -> Response:
    limit = parse_contracts_limit(request.json_object(), "order group")
    group = ctx.engine.create_group(request.user_id, limit)
    return Response(201, group_created_json(group))


def list_groups(ctx: SimContext, request: Request) -> Response:
    check_account_query(request.query)
    groups = ctx.engine.groups(request.user_id)
    return Response(200, {"order_groups": [group_summary_json(g) for g in groups]})


def get_group(ctx: SimContext, request: Request) -> Response:
    check_account_query(request.query)
    group = ctx.engine.group(request.user_id, request.params["order_group_id"])
    return Response(200, group_detail_json(group))


def delete_group(ctx: SimContext, request: Request) -> Response:
    check_account_query(request.query)
    ctx.engine.delete_group(request.user_id, request.params["order_group_id"])
    return Response(200, {})


def reset_group(ctx: SimContext, request: Request) -> Response:
    ctx.engine.reset_group(request.user_id, request.params["order_group_id"])
    return Response(200, {})


def trigger_group(ctx: SimContext, request: Request) -> Response:
    ctx.engine.trigger_group(request.user_id, request.params["order_group_id"])
    return Response(200, {})


def update_group_limit(ctx: SimContext, request: Request) -> Response:
    limit = parse_contracts_limit(request.json_object(), "order group limit")
    ctx.engine.update_group_limit(request.user_id, request.params["order_group_id"], limit)
    return Response(200, {})


ROUTES = (
    Route("POST", f"{GROUPS}/create", create_group, RouteKind.WRITE),
    Route("GET", GROUPS, list_groups, RouteKind.USER_READ),
    Route("GET", GROUP, get_group, RouteKind.USER_READ),
    Route("DELETE", GROUP, delete_group, RouteKind.WRITE),
    Route("PUT", f"{GROUP}/reset", reset_group, RouteKind.WRITE),
    Route("PUT", f"{GROUP}/trigger", trigger_group, RouteKind.WRITE),
    Route("PUT", f"{GROUP}/limit", update_group_limit, RouteKind.WRITE),
)
