"""The transport reads the environment once, when it is built: the proxy for its origin (NO_PROXY
honoured) and no ~/.netrc credentials on Kalshi's signed requests. Real loopback HTTP servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from dora.core.tiers import tier_named
from dora.exchange.credentials import Credentials
from dora.exchange.endpoints import EXCHANGE_STATUS
from dora.exchange.http import ApiRequest, Transport
from dora.exchange.ratelimit import RateLimiter
from dora.exchange.stats import ApiStats
from dora.runtime.clock import FakeClock


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]]  # (request target, Authorization header)

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"exchange_active": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[HTTPServer, HTTPServer]]:
    """An "exchange" and a "proxy" on loopback, each recording what it was asked."""
    started = []
    for _ in range(2):
        handler = type("Handler", (_Recorder,), {"seen": []})
        server = HTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield started[0], started[1]
    for server in started:
        server.shutdown()
        server.server_close()


def _url(server: HTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _status_call(exchange: HTTPServer, credentials: Credentials | None = None) -> None:
    clock = FakeClock()
    transport = Transport(f"{_url(exchange)}/trade-api/v2", credentials,
                          RateLimiter(tier_named("basic"), clock), clock, ApiStats())
    try:
        transport.call(ApiRequest(EXCHANGE_STATUS))
    finally:
        transport.close()


def _seen(server: HTTPServer) -> list[tuple[str, str | None]]:
    return server.RequestHandlerClass.seen  # type: ignore[attr-defined, no-any-return]


def test_a_proxy_in_the_environment_carries_the_requests(
    servers: tuple[HTTPServer, HTTPServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, proxy = servers
    monkeypatch.setenv("HTTP_PROXY", _url(proxy))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    _status_call(exchange)
    assert _seen(proxy) == [(f"{_url(exchange)}/trade-api/v2/exchange/status", None)]
    assert _seen(exchange) == []


def test_no_proxy_for_the_origin_goes_direct(
    servers: tuple[HTTPServer, HTTPServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange, proxy = servers
    monkeypatch.setenv("HTTP_PROXY", _url(proxy))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    _status_call(exchange)
    assert _seen(exchange) == [("/trade-api/v2/exchange/status", None)]
    assert _seen(proxy) == []


def test_a_netrc_entry_adds_no_authorization_to_signed_requests(
    servers: tuple[HTTPServer, HTTPServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    credentials: Credentials,
) -> None:
    exchange, _ = servers
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    _status_call(exchange, credentials)
    assert _seen(exchange) == [("/trade-api/v2/exchange/status", None)]
