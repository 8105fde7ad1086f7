"""Request signing for the sim's tests, independent of the client package: RSA-PSS SHA-256
(MGF1-SHA256, salt 32) or Ed25519 over ``timestamp_ms + METHOD + path`` (no query string)."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa


def load_private_key(path: str | Path) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    return key


def sign(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, message: bytes) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    else:
        raw = key.sign(message)
    return base64.b64encode(raw).decode()


def auth_headers(
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
    key_id: str,
    method: str,
    path: str,
    ts_ms: int,
) -> dict[str, str]:
    path_only = path.split("?", 1)[0]
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": str(ts_ms),
        "KALSHI-ACCESS-SIGNATURE": sign(key, f"{ts_ms}{method.upper()}{path_only}".encode()),
    }
