"""Kalshi request authentication, verifier side (docs/kalshi-notes.md#auth).

The sim holds public keys only. ``generate_key_pair`` writes the private key to a 0600 PEM file
for the client and keeps nothing of it. Signed text: ``timestamp_ms + METHOD + path`` (path with
``/trade-api/v2``, without the query string), RSA-PSS SHA-256 / MGF1-SHA256 / salt 32, or Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from dora.core.models import TsMs

MAX_CLOCK_SKEW_MS = 30_000
PSS_SALT_LENGTH = 32
RSA_KEY_BITS = 2048
KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class AuthError(Exception):
    """The request is not authenticated; the message says why (never echoing secrets)."""


@dataclass(frozen=True, slots=True)
class Account:
    key_id: str
    user_id: str
    public_key: PublicKey


def load_public_key(pem: bytes) -> PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("only RSA and Ed25519 public keys are supported")
    return key


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key_id: str
    private_key_path: Path
    public_pem: bytes


def generate_key_pair_pem() -> tuple[bytes, bytes]:
    """A fresh RSA-2048 key as (private PEM, public PEM). Nothing is kept."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def generate_key_pair(key_dir: Path, key_id: str | None = None) -> GeneratedKey:
    """A fresh key: private PEM written to ``key_dir`` with 0600 perms, public PEM returned."""
    key_id = key_id or str(uuid.uuid4())
    private_pem, public_pem = generate_key_pair_pem()
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / f"sim-{key_id}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    os.chmod(path, 0o600)
    return GeneratedKey(key_id, path, public_pem)


def verify_signature(public_key: PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                signature,
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH),
                hashes.SHA256(),
            )
        else:
            public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


class KeyRegistry:
    """Key id -> account. Thread-safe; accounts can be added while the server runs."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}
        self._lock = threading.Lock()

    def register(self, key_id: str, public_pem: bytes, user_id: str) -> Account:
        if not key_id:
            raise ValueError("key id must not be empty")
        account = Account(key_id, user_id, load_public_key(public_pem))
        with self._lock:
            self._accounts[key_id] = account
        return account

    def account(self, key_id: str) -> Account | None:
        with self._lock:
            return self._accounts.get(key_id)

    def authenticate(
        self, headers: Mapping[str, str], method: str, path: str, now_ms: TsMs
    ) -> Account:
        """The account a request is signed by; ``AuthError`` for anything short of a valid one.

        ``headers`` must be case-insensitive or use the canonical header names.
        """
        key_id = headers.get(KEY_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not key_id or not timestamp or not signature:
            raise AuthError("missing authentication headers")
        account = self.account(key_id)
        if account is None:
            raise AuthError("unknown API key")
        if not timestamp.isdigit():
            raise AuthError("timestamp must be Unix milliseconds")
        if abs(int(timestamp) - now_ms) > MAX_CLOCK_SKEW_MS:
            raise AuthError("request timestamp is too far from the exchange clock")
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("signature is not base64") from None
        message = f"{timestamp}{method.upper()}{path}".encode()
        if not verify_signature(account.public_key, message, raw):
            raise AuthError("invalid signature")
        return account
