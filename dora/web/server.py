"""The status page's HTTP server: standard library only, read-only, on its own daemon threads.

It serves the latest snapshot the loop published and never calls into the loop, so a slow or
stuck client cannot delay a cycle. Routes: ``/`` (the page), ``/status.json``, ``/healthz`` (200
while cycles run, the lease is held or this is a standby, and trading is not halted; 503
otherwise) and ``/livez`` (200 while cycles run, halted or not: what a container should be
restarted on).

Access: on a loopback address no token is needed, but the ``Host`` header must name a loopback host
(a web page elsewhere cannot read the page through DNS rebinding). On any other address a token is
required (the server refuses to start without one) and every route but the health checks asks for
it, as ``Authorization: Bearer <token>`` or ``?token=<token>``.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from dora.bot.snapshot import SnapshotHolder
from dora.core.errors import ConfigError
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event
from dora.store.tables import is_loopback_host
from dora.web.html import STYLE, csp_hash
from dora.web.page import REFRESH_SCRIPT, status_page
from dora.web.status_json import Health, health, liveness, status_document

DEFAULT_PORT = 8750
CSP = (f"default-src 'none'; script-src {csp_hash(REFRESH_SCRIPT)}; style-src {csp_hash(STYLE)}; "
       "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
COMMON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                  "Referrer-Policy": "no-referrer"}
OPEN_ROUTES = frozenset({"/healthz", "/livez"})


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str
    port: int
    token: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65_535:
            raise ConfigError(f"--http port must be 0-65535, got {self.port}")
        if self.token is not None and len(self.token) < 16:
            raise ConfigError("DORA_HTTP_TOKEN must be at least 16 characters")
        if not is_loopback_host(self.host) and not self.token:
            raise ConfigError(
                f"the status page on {self.host} (not a loopback address) needs a token: set "
                "DORA_HTTP_TOKEN, or serve it on 127.0.0.1")


def parse_bind(text: str, token: str | None = None) -> HttpSettings:
    """``HOST:PORT``, ``[IPV6]:PORT`` or a bare ``PORT`` (loopback)."""
    raw = text.strip()
    host, sep, port = raw.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", raw
    if not host or not port.isdigit():
        raise ConfigError(f"--http takes HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}), got {text!r}")
    return HttpSettings(host.strip("[]"), int(port), token or None)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


class StatusApp:
    """Routing, access checks and rendering; no sockets (the server below adds those)."""

    def __init__(self, holder: SnapshotHolder, clock: Clock, settings: HttpSettings) -> None:
        self._holder = holder
        self._clock = clock
        self._token = settings.token
        self._check_host = is_loopback_host(settings.host)

    def respond(self, target: str, headers: Mapping[str, str]) -> Response:
        parts = urlsplit(target)
        if self._check_host and not is_loopback_host(_host_name(headers.get("Host", ""))):
            return _text(403, "the status page answers only requests addressed to loopback\n")
        if parts.path not in OPEN_ROUTES and not self._authorized(parts.query, headers):
            return Response(401, b"a token is required\n",
                            headers={"WWW-Authenticate": 'Bearer realm="dora"'})
        snapshot = self._holder.latest()
        now_ms = self._clock.now_ms()
        if parts.path == "/healthz":
            return _health(health(snapshot, now_ms))
        if parts.path == "/livez":
            return _health(liveness(snapshot, now_ms))
        if parts.path == "/status.json":
            body = json.dumps(status_document(snapshot, now_ms), indent=1).encode("utf-8")
            return Response(200, body, "application/json")
        if parts.path in ("/", "/index.html"):
            return Response(200, status_page(snapshot, now_ms).encode("utf-8"),
                            "text/html; charset=utf-8", {"Content-Security-Policy": CSP})
        return _text(404, "not found: try /, /status.json, /healthz or /livez\n")

    def _authorized(self, query: str, headers: Mapping[str, str]) -> bool:
        if self._token is None:
            return True
        offered = parse_qs(query).get("token", [""])[0]
        scheme, _, value = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            offered = value.strip()
        return hmac.compare_digest(offered.encode("utf-8"), self._token.encode("utf-8"))


def _host_name(host_header: str) -> str:
    host = host_header.strip()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _health(state: Health) -> Response:
    return _text(200 if state.ok else 503, f"{state.status}: {state.detail}\n")


def _text(status: int, text: str) -> Response:
    return Response(status, text.encode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            response = self.server.app.respond(self.path, dict(self.headers.items()))
        except Exception as exc:  # a rendering bug answers 500; the loop is not affected
            log_event(self.server.log, EventType.ERROR, f"status page failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__, exc_info=True)
            response = _text(500, "internal error\n")
        self.send_response(response.status)
        for name, value in {**COMMON_HEADERS, **response.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: stderr carries the live status line."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, settings: HttpSettings, app: StatusApp, log: logging.Logger) -> None:
        if ":" in settings.host:
            self.address_family = socket.AF_INET6
        self.app = app
        self.log = log
        super().__init__((settings.host, settings.port), _Handler)


class StatusServer:
    """Binds at construction (a port in use fails here, before the bot starts)."""

    def __init__(
        self, holder: SnapshotHolder, clock: Clock, settings: HttpSettings, log: logging.Logger,
    ) -> None:
        self._httpd = _Server(settings, StatusApp(holder, clock, settings), log)
        self._host = settings.host
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="dora-status-http", daemon=True)

    @property
    def url(self) -> str:
        port = self._httpd.server_address[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{port}/"

    def start(self) -> StatusServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
