"""The ``/_sim/...`` control surface for tests and demos: unauthenticated, loopback clients only.

Amounts use the API's own formats: prices as dollar strings ("0.55"), cash as dollar strings,
rates as decimal or fraction strings ("0.05", "1/20") or JSON numbers.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qs

from dora.core.models import MarketStatus
from dora.core.tiers import tier_named
from dora.core.units import UnitError, parse_micros, parse_price
from dora.sim.engine.records import EngineError
from dora.sim.http.auth import generate_key_pair_pem
from dora.sim.http.context import Route, RouteKind, Router, SimContext
from dora.sim.http.http_types import ApiError, Query, Request, Response, invalid
from dora.sim.http.knobs import AmendExpiry, LostMode
from dora.sim.http.wire import error_body
from dora.sim.http.wire_market import MarketActivity, market_json

CONTROL_PREFIX = "/_sim"
DAY_MS = 24 * 3_600_000


def is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127.")


def _body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        value = json.loads(request.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise invalid("request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise invalid("request body must be a JSON object")
    return value


def _typed(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid(f"{name} must be of type {kind.__name__}")
    return value


def _rate(value: Any, name: str) -> Fraction:
    try:
        if isinstance(value, bool):
            raise TypeError
        return Fraction(str(value)) if isinstance(value, str | Decimal) else Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise invalid(f"{name} must be a number or fraction string, got {value!r}") from None


def _price(value: Any, name: str) -> int:
    try:
        return parse_price(value)
    except UnitError:
        raise invalid(f"{name} must be a dollar string like \"0.55\"") from None


def add_market(ctx: SimContext, request: Request) -> Response:
    body = _body(request)
    ticker = _typed(body, "ticker", str)
    if not ticker:
        raise invalid("ticker is required")
    now = ctx.now_ms()
    close_in_s = _typed(body, "close_in_s", int, 7 * 86_400)
    close_ms = _typed(body, "close_ms", int, now + close_in_s * 1000)
    open_in_s = _typed(body, "open_in_s", int, 0)
    status = _market_status(_typed(body, "status", str, MarketStatus.ACTIVE.value))
    market = ctx.engine.add_market(
        ticker, close_ms=close_ms, event_ticker=_typed(body, "event_ticker", str, ""),
        price_level_structure=_typed(body, "price_level_structure", str, "linear_cent"),
        fractional=_typed(body, "fractional", bool, False),
        maker_fees=_typed(body, "maker_fees", bool, False),
        fair_value=_price(_typed(body, "fair_value", str, "0.50"), "fair_value"), status=status,
        open_ms=now + open_in_s * 1000,
    )
    return Response(201, {"market": market_json(market, MarketActivity())})


def _market_status(raw: str) -> MarketStatus:
    """Only Kalshi's own status values (docs/kalshi-notes.md#enumerations), never dora's
    ``unknown`` placeholder."""
    allowed = [s.value for s in MarketStatus if s is not MarketStatus.UNKNOWN]
    if raw not in allowed:
        raise invalid(f"status must be one of {', '.join(allowed)}; got {raw!r}")
    return MarketStatus(raw)


def set_fair_value(ctx: SimContext, request: Request) -> Response:
    value = _typed(_body(request), "fair_value", str)
    if value is None:
        raise invalid("fair_value is required")
    ctx.engine.set_fair_value(request.params["ticker"], _price(value, "fair_value"))
    return Response(200, {})


def close_market(ctx: SimContext, request: Request) -> Response:
    ctx.engine.close_market(request.params["ticker"])
    return Response(200, {})


def set_close_time(ctx: SimContext, request: Request) -> Response:
    """``{"close_in_s": 90}`` or ``{"close_ms": <epoch ms>}``: move an open market's close."""
    body = _body(request)
    close_in_s = _typed(body, "close_in_s", int)
    close_ms = _typed(body, "close_ms", int)
    if (close_in_s is None) == (close_ms is None):
        raise invalid("give exactly one of close_in_s and close_ms")
    if close_ms is None:
        close_ms = ctx.now_ms() + close_in_s * 1000
    ctx.engine.set_close_time(request.params["ticker"], close_ms)
    return Response(200, {"close_ms": close_ms})


def settle_market(ctx: SimContext, request: Request) -> Response:
    result = _typed(_body(request), "result", str)
    if result not in ("yes", "no"):
        raise invalid("result must be yes or no")
    ctx.engine.settle_market(request.params["ticker"], result)
    return Response(200, {})


def pause_market(ctx: SimContext, request: Request) -> Response:
    ctx.engine.pause_market(request.params["ticker"])
    return Response(200, {})


def resume_market(ctx: SimContext, request: Request) -> Response:
    ctx.engine.resume_market(request.params["ticker"])
    return Response(200, {})


def get_knobs(ctx: SimContext, request: Request) -> Response:
    return Response(200, ctx.knobs.values.as_json())


def set_knobs(ctx: SimContext, request: Request) -> Response:
    body = _body(request)
    unknown = set(body) - {"latency_ms", "lag_ms", "fault_rate", "lost_response_rate",
                           "lost_response_mode", "flow", "amend_expiry"}
    if unknown:
        raise invalid(f"unknown knob(s): {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    for name in ("latency_ms", "lag_ms"):
        if name in body:
            changes[name] = _typed(body, name, int)
    for name in ("fault_rate", "lost_response_rate"):
        if name in body:
            changes[name] = _rate(body[name], name)
    if "lost_response_mode" in body:
        changes["lost_response_mode"] = LostMode(_typed(body, "lost_response_mode", str))
    if "flow" in body:
        changes["flow"] = _typed(body, "flow", bool)
    if "amend_expiry" in body:
        changes["amend_expiry"] = _amend_expiry(_typed(body, "amend_expiry", str))
    try:
        values = ctx.knobs.update(**changes)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if "flow" in changes:
        ctx.engine.configure_flow(None, enabled=values.flow)
    return Response(200, values.as_json())


def _amend_expiry(text: str) -> AmendExpiry:
    try:
        return AmendExpiry(text)
    except ValueError:
        choices = ", ".join(a.value for a in AmendExpiry)
        raise invalid(f"amend_expiry must be one of {choices}; got {text!r}") from None


def configure_flow(ctx: SimContext, request: Request) -> Response:
    body = _body(request)
    rates = {
        name: _rate(body[name], name) if body.get(name) is not None else None
        for name in ("taker_rate_per_s", "maker_rate_per_s")
    }
    ctx.engine.configure_flow(
        _typed(body, "ticker", str), enabled=_typed(body, "enabled", bool, True), **rates
    )
    return Response(200, {})


def set_trading_active(ctx: SimContext, request: Request) -> Response:
    """``{"active": false, "duration_ms": 5000}`` opens a pause window that ends by itself."""
    body = _body(request)
    active = _typed(body, "active", bool)
    if active is None:
        raise invalid("active is required")
    duration_ms = _typed(body, "duration_ms", int)
    ctx.engine.set_trading_active(active)
    until = ctx.now_ms() + duration_ms if not active and duration_ms is not None else None
    ctx.knobs.start_pause(until)
    return Response(200, {"trading_active": active})


def get_counters(ctx: SimContext, request: Request) -> Response:
    return Response(200, {**ctx.counters.snapshot(), "engine": ctx.engine.counters()})


def reset_counters(ctx: SimContext, request: Request) -> Response:
    ctx.counters.reset()
    return Response(200, {})


def advance(ctx: SimContext, request: Request) -> Response:
    return Response(200, {"now_ms": ctx.now_ms()})  # the pipeline already ticked the engine


def add_account(ctx: SimContext, request: Request) -> Response:
    """Another trader: ``{"cash": "1000.00", "public_key": PEM, "key_id": id}``; without a key,
    one is generated and its private PEM returned (and not kept)."""
    body = _body(request)
    cash = parse_micros(_typed(body, "cash", str, "1000000"))
    key_id = _typed(body, "key_id", str) or str(uuid.uuid4())
    public_pem = _typed(body, "public_key", str)
    private_pem: str | None = None
    if public_pem is None:
        private_bytes, public_bytes = generate_key_pair_pem()
        private_pem, public_pem = private_bytes.decode(), public_bytes.decode()
    user_id = _typed(body, "user_id", str) or f"user-{key_id}"
    try:
        ctx.registry.register(key_id, public_pem.encode(), user_id)
    except ValueError as exc:
        raise invalid(f"public_key: {exc}") from None
    ctx.engine.open_account(user_id, cash)
    answer = {"key_id": key_id, "user_id": user_id}
    return Response(201, answer if private_pem is None else {**answer, "private_key": private_pem})


def set_tier(ctx: SimContext, request: Request) -> Response:
    try:
        tier = tier_named(_typed(_body(request), "tier", str, ""))
    except ValueError as exc:
        raise invalid(str(exc)) from None
    ctx.limiter.set_tier(tier)
    return Response(200, {"tier": tier.name})


def _route(method: str, path: str, handler: Any) -> Route:
    return Route(method, path, handler, RouteKind.PUBLIC)


CONTROL_ROUTES = (
    _route("POST", "/markets", add_market),
    _route("POST", "/markets/{ticker}/fair_value", set_fair_value),
    _route("POST", "/markets/{ticker}/close", close_market),
    _route("POST", "/markets/{ticker}/close_time", set_close_time),
    _route("POST", "/markets/{ticker}/settle", settle_market),
    _route("POST", "/markets/{ticker}/pause", pause_market),
    _route("POST", "/markets/{ticker}/resume", resume_market),
    _route("GET", "/knobs", get_knobs),
    _route("POST", "/knobs", set_knobs),
    _route("POST", "/flow", configure_flow),
    _route("POST", "/trading_active", set_trading_active),
    _route("GET", "/counters", get_counters),
    _route("POST", "/counters/reset", reset_counters),
    _route("POST", "/advance", advance),
    _route("POST", "/accounts", add_account),
    _route("POST", "/tier", set_tier),
)


class ControlSurface:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.router = Router(CONTROL_ROUTES)

    def handle(
        self, method: str, path: str, raw_query: str, body: bytes, client_host: str
    ) -> Response:
        if not is_loopback(client_host):
            return Response(403, error_body("forbidden", "the control surface is loopback only"))
        relative = path[len(CONTROL_PREFIX):]
        match = self.router.match(method, relative)
        if match is None:
            return Response(404, error_body("not_found", f"no such control endpoint: {path}"))
        query = Query(parse_qs(raw_query, keep_blank_values=True))
        request = Request(method, path, match.route.template, match.params, query, body)
        try:
            with self.ctx.lock:
                self.ctx.tick()
                return match.route.handler(self.ctx, request)
        except (ApiError, EngineError) as exc:
            return Response(exc.status, error_body(exc.code, exc.message))
        except ValueError as exc:
            return Response(400, error_body("invalid_parameters", str(exc)))
