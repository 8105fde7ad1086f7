"""The private key (and the signature) never show up in logs, exception text or reprs."""

from __future__ import annotations

import base64
import io
import logging
import pickle
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dora.core.errors import DoraError, FatalError
from dora.core.tiers import tier_named
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials, CredentialsError
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import SystemClock


class _Handler(BaseHTTPRequestHandler):
    seen_signatures: list[str] = []

    def do_GET(self) -> None:
        _Handler.seen_signatures.append(self.headers.get("KALSHI-ACCESS-SIGNATURE", ""))
        if self.path.startswith("/trade-api/v2/exchange/status"):
            body, status = b'{"exchange_active": true, "trading_active": true}', 200
        else:
            body, status = b'{"error": {"code": "unauthorized", "message": "bad sig"}}', 401
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logging.getLogger("test.server").debug(format, *args)


class _EverythingFormatter(logging.Formatter):
    """The message plus every attribute of the record (extra fields included)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.getMessage()} {vars(record)!r}"


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/trade-api/v2"
    httpd.shutdown()
    httpd.server_close()


def secret_fragments(key: rsa.RSAPrivateKey, pem: bytes) -> list[str]:
    numbers = key.private_numbers()
    body_lines = [line for line in pem.decode().splitlines() if line and "-----" not in line]
    return [
        *body_lines,
        str(numbers.d), format(numbers.d, "x"), str(numbers.p), str(numbers.q),
        "PRIVATE KEY",
    ]


def test_key_and_signatures_stay_out_of_debug_logs_and_errors(
    server: str, rsa_key: rsa.RSAPrivateKey, rsa_pem: bytes,
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_EverythingFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    errors: list[str] = []
    try:
        credentials = Credentials.from_pem("key-123", rsa_pem)
        client = KalshiClient(server, credentials, RateLimiter(tier_named("basic"), SystemClock()),
                              SystemClock())
        client.fetch_exchange_status()  # signed, succeeds
        with pytest.raises(FatalError) as caught:  # signed, fails with 401
            client.fetch_balance()
        errors += [str(caught.value), repr(caught.value),
                   "".join(traceback.format_exception(caught.value))]
        errors += [repr(credentials), str(credentials), repr(client.__dict__)]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = stream.getvalue()
    assert "GET /trade-api/v2/exchange/status" in logged  # urllib3's DEBUG lines were captured
    everything = logged + "\n".join(errors)
    for fragment in secret_fragments(rsa_key, rsa_pem):
        assert fragment not in everything
    assert _Handler.seen_signatures and all(s for s in _Handler.seen_signatures)
    for signature in _Handler.seen_signatures:
        assert signature not in everything


def test_credentials_cannot_be_pickled_and_repr_shows_only_the_id(rsa_pem: bytes) -> None:
    credentials = Credentials.from_pem("key-123", rsa_pem)
    assert repr(credentials) == (
        "Credentials(key_id='key-123', algorithm='rsa-pss-sha256', key=<hidden>)")
    with pytest.raises(TypeError):
        pickle.dumps(credentials)


@pytest.mark.parametrize("mangle", [
    lambda pem: pem[: len(pem) // 2],  # truncated
    lambda pem: pem.replace(b"A", b"B"),  # corrupted body
])
def test_an_unloadable_key_is_reported_without_its_content(
    rsa_key: rsa.RSAPrivateKey, rsa_pem: bytes, mangle: object
) -> None:
    bad = mangle(rsa_pem)  # type: ignore[operator]
    env = {"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY": bad.decode()}
    for attempt in (lambda: Credentials.from_pem("k", bad), lambda: Credentials.from_env(env),
                    lambda: Credentials.from_env({**env, "KALSHI_PRIVATE_KEY": base64.b64encode(
                        bad).decode()})):
        with pytest.raises(CredentialsError) as caught:
            attempt()
        text = "".join(traceback.format_exception(caught.value))
        assert isinstance(caught.value, DoraError)
        for fragment in secret_fragments(rsa_key, rsa_pem):
            assert fragment not in text
