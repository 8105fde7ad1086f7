"""The sim's HTTP face: a threading stdlib server, and the per-request pipeline
(route -> authenticate -> rate limit -> fault -> engine under its lock -> lost response ->
latency), with request/status counting."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from dora.sim.engine.records import EngineError
from dora.sim.http import (
    routes_account,
    routes_groups,
    routes_markets,
    routes_orders,
    routes_portfolio,
)
from dora.sim.http.auth import AuthError
from dora.sim.http.context import Match, Route, RouteKind, Router, SimContext
from dora.sim.http.control import CONTROL_PREFIX, ControlSurface
from dora.sim.http.http_types import ApiError, Query, Request, Response
from dora.sim.http.knobs import LostMode
from dora.sim.http.wire import RATE_LIMITED_BODY, error_body
from dora.sim.http.wire_parse import batch_item_count

API_PREFIX = "/trade-api/v2"
ANONYMOUS = "anonymous"
API_ROUTES: tuple[Route, ...] = (
    *routes_orders.ROUTES,
    *routes_portfolio.ROUTES,
    *routes_markets.ROUTES,
    *routes_groups.ROUTES,
    *routes_account.ROUTES,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request as it arrived."""

    method: str
    target: str  # path plus optional "?query"
    headers: Mapping[str, str]  # names upper-cased
    body: bytes
    client_host: str


def api_error(error: ApiError | EngineError) -> Response:
    return Response(error.status, error_body(error.code, error.message))


class SimApp:
    """Turns a ``Call`` into a ``Response``; transport-free so it can be driven directly."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.router = Router(API_ROUTES)
        self.control = ControlSurface(ctx)

    def handle(self, call: Call) -> Response:
        path, _, raw_query = call.target.partition("?")
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return self.control.handle(call.method, path, raw_query, call.body, call.client_host)
        counters = self.ctx.counters
        template = self._template(call.method, path)
        request = counters.journal(None, "arrived", call.method, template)
        response = self._handle_api(call, path, raw_query)
        if response.lose_response:
            counters.count_status(0)
        else:
            counters.count_status(response.status)
        latency_ms = self.ctx.knobs.values.latency_ms
        if latency_ms > 0:
            self.ctx.clock.sleep(latency_ms / 1000)
        counters.journal(request, "answered", call.method, template)
        return response

    def _template(self, method: str, path: str) -> str:
        relative = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else None
        match = self.router.match(method, relative) if relative is not None else None
        return match.route.template if match is not None else "<unmatched>"

    def _handle_api(self, call: Call, path: str, raw_query: str) -> Response:
        relative = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else None
        match = self.router.match(call.method, relative) if relative is not None else None
        if match is None:
            self.ctx.counters.count_request(call.method, "<unmatched>")
            if relative is not None and self.router.allows_other_method(relative):
                return Response(405, error_body("method_not_allowed", f"{call.method} {path}"))
            return Response(404, error_body("not_found", f"no such endpoint: {path}"))
        self.ctx.counters.count_request(call.method, match.route.template)
        query = Query(parse_qs(raw_query, keep_blank_values=True))
        request = Request(call.method, path, match.route.template, match.params, query, call.body)
        try:
            return self._serve(match, request, call.headers)
        except (ApiError, EngineError) as exc:
            return api_error(exc)
        except Exception:
            log.exception("sim failed on %s %s", call.method, path)
            return Response(500, error_body("internal_server_error", "the simulator failed"))

    def _serve(self, match: Match, request: Request, headers: Mapping[str, str]) -> Response:
        ctx, route = self.ctx, match.route
        account = ANONYMOUS
        try:
            found = ctx.registry.authenticate(headers, request.method, request.path, ctx.now_ms())
        except AuthError as exc:
            if route.kind is not RouteKind.PUBLIC:
                raise ApiError(401, "authentication_error", str(exc)) from None
        else:  # signed market-data reads are billed to the account, as on Kalshi
            request = replace(request, user_id=found.user_id)
            account = found.key_id
        items = batch_item_count(_loads(request.body)) if route.batch else 1
        if not ctx.limiter.admit(account, request.method, route.template, items):
            return Response(429, RATE_LIMITED_BODY)
        if ctx.knobs.draw_fault():
            ctx.counters.record_fault(request.method, route.template, ctx.now_ms())
            raise ApiError(503, "service_unavailable", "the exchange is temporarily unavailable")
        with ctx.lock:
            ctx.tick()
            response = route.handler(ctx, request)
        answered = response
        if route.kind is RouteKind.WRITE and response.status < 300:
            answered = _maybe_lose(ctx, response)
        if route.template in routes_orders.CANCEL_TEMPLATES:
            ctx.counters.record_cancel_answers(routes_orders.cancel_answers(
                request, response, delivered=answered is response, ts_ms=ctx.now_ms()))
        if answered is not response and route.template in routes_orders.CREATE_TEMPLATES:
            ctx.counters.record_lost_creates(
                routes_orders.created_order_ids(request, response), ctx.now_ms())
        return answered


def _maybe_lose(ctx: SimContext, response: Response) -> Response:
    lost = ctx.knobs.draw_lost_response()
    if lost is None:
        return response
    body = error_body("service_unavailable", "the exchange is temporarily unavailable")
    return Response(503, body, lose_response=lost is LostMode.DROP)


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


class SimRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; no 40 ms stalls
    server: SimServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._send(Response(400, error_body("invalid_parameters", "bad Content-Length")))
            return
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.upper(): value for name, value in self.headers.items()}
        if self.server.stopped:  # a kept-alive connection outlives the listener: it answers nothing
            self._drop_connection()
            return
        call = Call(self.command, self.path, headers, body, self.client_address[0])
        response = self.server.app.handle(call)
        if response.lose_response:
            self._drop_connection()
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drop_connection(self) -> None:
        """The write happened; the client sees the connection close with no answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: SimApp) -> None:
        self.app = app
        self.stopped = False  # set by the runner's stop: open connections answer nothing more
        super().__init__(address, SimRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request (its timeout, a dropped proxy) is routine."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s hung up", client_address)
            return
        super().handle_error(request, client_address)
