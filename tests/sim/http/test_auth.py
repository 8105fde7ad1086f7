from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dora.sim.http.auth import MAX_CLOCK_SKEW_MS, AuthError, KeyRegistry, generate_key_pair
from tests.sim.http.signing import auth_headers, load_private_key

NOW = 1_767_225_600_000
PATH = "/trade-api/v2/portfolio/orders"


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[KeyRegistry, str, Path]:
    generated = generate_key_pair(tmp_path_factory.mktemp("keys"))
    registry = KeyRegistry()
    registry.register(generated.key_id, generated.public_pem, "user-1")
    return registry, generated.key_id, generated.private_key_path


def test_generated_private_key_is_owner_only(rsa_key: tuple[KeyRegistry, str, Path]) -> None:
    _, _, path = rsa_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()


def test_valid_rsa_pss_signature_authenticates(rsa_key: tuple[KeyRegistry, str, Path]) -> None:
    registry, key_id, path = rsa_key
    headers = auth_headers(load_private_key(path), key_id, "GET", PATH, NOW)
    assert registry.authenticate(headers, "GET", PATH, NOW).user_id == "user-1"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h: {k: v for k, v in h.items() if k != "KALSHI-ACCESS-SIGNATURE"}, "missing"),
        (lambda h: {**h, "KALSHI-ACCESS-KEY": "someone-else"}, "unknown"),
        (lambda h: {**h, "KALSHI-ACCESS-SIGNATURE": "AAAA" + h["KALSHI-ACCESS-SIGNATURE"][4:]},
         "invalid signature"),
        (lambda h: {**h, "KALSHI-ACCESS-SIGNATURE": "not base64!"}, "base64"),
    ],
)
def test_tampered_requests_are_rejected(
    rsa_key: tuple[KeyRegistry, str, Path],
    tamper: Callable[[dict[str, str]], dict[str, str]],
    reason: str,
) -> None:
    registry, key_id, path = rsa_key
    headers = tamper(auth_headers(load_private_key(path), key_id, "GET", PATH, NOW))
    with pytest.raises(AuthError, match=reason):
        registry.authenticate(headers, "GET", PATH, NOW)


def test_signature_covers_method_and_path(rsa_key: tuple[KeyRegistry, str, Path]) -> None:
    registry, key_id, path = rsa_key
    headers = auth_headers(load_private_key(path), key_id, "GET", PATH, NOW)
    with pytest.raises(AuthError):
        registry.authenticate(headers, "DELETE", PATH, NOW)
    with pytest.raises(AuthError):
        registry.authenticate(headers, "GET", PATH + "/x", NOW)


@pytest.mark.parametrize("skew", [MAX_CLOCK_SKEW_MS + 1, -(MAX_CLOCK_SKEW_MS + 1)])
def test_stale_or_future_timestamp_is_rejected(
    rsa_key: tuple[KeyRegistry, str, Path], skew: int
) -> None:
    registry, key_id, path = rsa_key
    headers = auth_headers(load_private_key(path), key_id, "GET", PATH, NOW + skew)
    with pytest.raises(AuthError, match="too far"):
        registry.authenticate(headers, "GET", PATH, NOW)
    ok = auth_headers(load_private_key(path), key_id, "GET", PATH, NOW + MAX_CLOCK_SKEW_MS)
    registry.authenticate(ok, "GET", PATH, NOW)


def test_ed25519_public_keys_are_accepted() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    registry = KeyRegistry()
    registry.register("ed", public_pem, "user-ed")
    headers = auth_headers(private, "ed", "POST", PATH, NOW)
    assert registry.authenticate(headers, "POST", PATH, NOW).user_id == "user-ed"
    with pytest.raises(AuthError):
        registry.authenticate(headers, "GET", PATH, NOW)
