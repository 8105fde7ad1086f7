"""Fixtures for the exchange client tests: keys, a fake clock, a `responses` mock and clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from dora.core.tiers import tier_named
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import FakeClock

BASE = "http://127.0.0.1:8999/trade-api/v2"


def pem_of(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return pem_of(rsa_key)


@pytest.fixture
def credentials(rsa_pem: bytes) -> Credentials:
    return Credentials.from_pem("key-123", rsa_pem)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_client(
    credentials: Credentials, clock: FakeClock
) -> Callable[..., KalshiClient]:
    def build(tier: str = "basic", **kwargs: Any) -> KalshiClient:
        limiter = RateLimiter(tier_named(tier), clock)
        return KalshiClient(BASE, credentials, limiter, clock, **kwargs)

    return build


@pytest.fixture
def client(make_client: Callable[..., KalshiClient]) -> KalshiClient:
    return make_client()
