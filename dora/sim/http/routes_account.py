"""The account's API limits: its token buckets (``GET /account/limits``, authenticated) and the
endpoint costs that differ from the default (``GET /account/endpoint_costs``, public), in Kalshi's
shapes (docs/kalshi-notes.md#rate-limits). The tier is the sim's, settable via ``/_sim/tier``."""

from __future__ import annotations

from dora.core.tiers import DEFAULT_COST, ENDPOINT_COSTS
from dora.sim.http.context import Route, RouteKind, SimContext
from dora.sim.http.http_types import Request, Response

API_PREFIX = "/trade-api/v2"


def account_limits(ctx: SimContext, request: Request) -> Response:
    tier = ctx.limiter.tier
    return Response(200, {
        "usage_tier": tier.name,
        "read": {"refill_rate": tier.read_rate, "bucket_capacity": tier.read_capacity},
        "write": {"refill_rate": tier.write_rate, "bucket_capacity": tier.write_capacity},
        "grants": [],
    })


def endpoint_costs(ctx: SimContext, request: Request) -> Response:
    listed = [
        {"method": method, "path": API_PREFIX + template, "cost": entry.cost}
        for (method, template), entry in sorted(ENDPOINT_COSTS.items())
        if entry.cost != DEFAULT_COST
    ]
    return Response(200, {"default_cost": DEFAULT_COST, "endpoint_costs": listed})


ROUTES = (
    Route("GET", "/account/limits", account_limits, RouteKind.USER_READ),
    Route("GET", "/account/endpoint_costs", endpoint_costs, RouteKind.PUBLIC),
)
