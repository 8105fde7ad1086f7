"""Loading credentials, both signature algorithms, and the base URL per environment."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from dora.core.errors import ConfigError
from dora.exchange.auth import auth_headers, signing_message
from dora.exchange.credentials import Credentials, CredentialsError, base_url_for
from tests.exchange.conftest import pem_of


def verify_rsa_pss(key: rsa.RSAPrivateKey, message: bytes, signature_b64: str) -> None:
    key.public_key().verify(
        base64.b64decode(signature_b64), message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256(),
    )


def test_rsa_signature_is_pss_sha256_with_digest_length_salt(
    rsa_key: rsa.RSAPrivateKey, rsa_pem: bytes
) -> None:
    signature = Credentials.from_pem("k", rsa_pem).sign(b"hello")
    verify_rsa_pss(rsa_key, b"hello", signature)  # salt_length=32 fails for any other salt


def test_ed25519_keys_sign_too() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    credentials = Credentials.from_pem("k", pem_of(key))
    assert credentials.algorithm == "ed25519"
    key.public_key().verify(base64.b64decode(credentials.sign(b"msg")), b"msg")


def test_signed_message_is_timestamp_method_and_path_without_query(rsa_key: rsa.RSAPrivateKey,
                                                                   rsa_pem: bytes) -> None:
    assert signing_message(1703123456789, "get", "/trade-api/v2/portfolio/orders?limit=5") == (
        b"1703123456789GET/trade-api/v2/portfolio/orders")
    headers = auth_headers(Credentials.from_pem("kid", rsa_pem), 17, "DELETE",
                           "/trade-api/v2/portfolio/events/orders/x")
    assert headers["KALSHI-ACCESS-KEY"] == "kid"
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "17"
    verify_rsa_pss(rsa_key, b"17DELETE/trade-api/v2/portfolio/events/orders/x",
                   headers["KALSHI-ACCESS-SIGNATURE"])


def test_from_env_reads_a_key_file(tmp_path: Path, rsa_pem: bytes) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(rsa_pem)
    env = {"KALSHI_API_KEY_ID": "kid", "KALSHI_PRIVATE_KEY_PATH": str(path),
           "KALSHI_PRIVATE_KEY": "ignored when a path is given"}
    assert Credentials.from_env(env).key_id == "kid"


@pytest.mark.parametrize("encode", [
    lambda pem: pem.decode(),  # PEM text as ECS injects it
    lambda pem: pem.decode().replace("\n", "\\n"),  # newlines escaped in a one-line secret
    lambda pem: base64.b64encode(pem).decode(),  # base64 of the PEM
])
def test_from_env_accepts_pem_text(rsa_key: rsa.RSAPrivateKey, rsa_pem: bytes,
                                   encode: object) -> None:
    env = {"KALSHI_API_KEY_ID": "kid", "KALSHI_PRIVATE_KEY": encode(rsa_pem)}  # type: ignore[operator]
    verify_rsa_pss(rsa_key, b"x", Credentials.from_env(env).sign(b"x"))


@pytest.mark.parametrize(("env", "message"), [
    ({}, "KALSHI_API_KEY_ID"),
    ({"KALSHI_API_KEY_ID": "k"}, "KALSHI_PRIVATE_KEY"),
    ({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": "/nonexistent/k.pem"}, "cannot read"),
    ({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY": "not a key"}, "neither PEM"),
])
def test_from_env_says_what_is_missing(env: dict[str, str], message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        Credentials.from_env(env)


def test_ready_file_gives_url_and_credentials(tmp_path: Path, rsa_pem: bytes) -> None:
    key_path = tmp_path / "sim.pem"
    key_path.write_bytes(rsa_pem)
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps({"url": "http://127.0.0.1:5000/trade-api/v2/",
                                 "control_url": "http://127.0.0.1:5000/_sim",
                                 "key_id": "sim-key", "private_key_path": str(key_path)}))
    assert base_url_for("sim", ready_file=str(ready)) == "http://127.0.0.1:5000/trade-api/v2"
    assert Credentials.from_ready_file(ready).key_id == "sim-key"


def test_base_urls() -> None:
    assert base_url_for("prod") == "https://external-api.kalshi.com/trade-api/v2"
    assert base_url_for("demo") == "https://external-api.demo.kalshi.co/trade-api/v2"
    assert base_url_for("prod", url="http://127.0.0.1:1/trade-api/v2") == (
        "http://127.0.0.1:1/trade-api/v2")
    with pytest.raises(ConfigError, match="ready file"):
        base_url_for("sim")
    with pytest.raises(ConfigError, match="unknown environment"):
        base_url_for("staging")
