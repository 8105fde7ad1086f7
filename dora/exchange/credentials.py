"""API credentials (key id + private key) and the exchange base URL for an environment.

The private key lives only inside :class:`Credentials`; its repr/str show the key id and the
algorithm, it cannot be pickled, and every error raised while loading it says what is wrong
without quoting the key material.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
)

from dora.core.errors import ConfigError

KALSHI_HOSTS: dict[str, str] = {
    "prod": "https://external-api.kalshi.com/trade-api/v2",
    "demo": "https://external-api.demo.kalshi.co/trade-api/v2",
}

_PEM_MARKER = b"-----BEGIN"
# Kalshi: RSA-PSS with SHA-256, MGF1(SHA-256), salt length = digest length (32 bytes).
_PSS_SHA256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


class CredentialsError(ConfigError, ValueError):
    """Credentials that cannot be used. The message never contains key material."""


class Credentials:
    """A Kalshi API key id and its private key (RSA, signed RSA-PSS/SHA-256, or Ed25519)."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key_id: str, key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> None:
        if not key_id.strip():
            raise CredentialsError("empty API key id")
        if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise CredentialsError(f"unsupported private key type {type(key).__name__}")
        self.key_id = key_id.strip()
        self._key = key

    @property
    def algorithm(self) -> str:
        return "rsa-pss-sha256" if isinstance(self._key, rsa.RSAPrivateKey) else "ed25519"

    def sign(self, message: bytes) -> str:
        """Standard base64 of the signature of ``message``."""
        if isinstance(self._key, rsa.RSAPrivateKey):
            signature = self._key.sign(
                message,
                _PSS_SHA256,
                hashes.SHA256(),
            )
        else:
            signature = self._key.sign(message)
        return base64.b64encode(signature).decode("ascii")

    def __repr__(self) -> str:
        return f"Credentials(key_id={self.key_id!r}, algorithm={self.algorithm!r}, key=<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("Credentials cannot be pickled")

    @classmethod
    def from_pem(cls, key_id: str, pem: bytes) -> Credentials:
        return cls(key_id, _load_private_key(pem))

    @classmethod
    def from_file(cls, key_id: str, path: str | Path) -> Credentials:
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise CredentialsError(f"cannot read private key file {path}: {exc.strerror}") from None
        return cls.from_pem(key_id, pem)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Credentials:
        """KALSHI_API_KEY_ID plus KALSHI_PRIVATE_KEY_PATH (a PEM file) or KALSHI_PRIVATE_KEY
        (PEM text, as ECS injects secrets; escaped ``\\n`` and base64-wrapped PEM are accepted)."""
        key_id = environ.get("KALSHI_API_KEY_ID", "")
        if not key_id:
            raise CredentialsError("KALSHI_API_KEY_ID is not set")
        path = environ.get("KALSHI_PRIVATE_KEY_PATH", "")
        if path:
            return cls.from_file(key_id, path)
        text = environ.get("KALSHI_PRIVATE_KEY", "")
        if not text:
            raise CredentialsError("neither KALSHI_PRIVATE_KEY_PATH nor KALSHI_PRIVATE_KEY is set")
        return cls.from_pem(key_id, _pem_from_text(text))

    @classmethod
    def from_ready_file(cls, path: str | Path) -> Credentials:
        """The key id and generated key named by a ``dora sim`` ready file."""
        ready = _read_ready_file(path)
        key_path = ready.get("private_key_path")
        if not isinstance(key_path, str) or not key_path:
            raise CredentialsError(f"ready file {path} names no private_key_path")
        return cls.from_file(str(ready.get("key_id", "")), key_path)


def _pem_from_text(text: str) -> bytes:
    raw = text.strip().encode()
    if raw.startswith(_PEM_MARKER):
        return raw.replace(b"\\n", b"\n") if b"\n" not in raw else raw
    try:
        decoded = base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError):
        raise CredentialsError("KALSHI_PRIVATE_KEY is neither PEM text nor base64 PEM") from None
    if not decoded.lstrip().startswith(_PEM_MARKER):
        raise CredentialsError("KALSHI_PRIVATE_KEY is neither PEM text nor base64 PEM")
    return decoded


def _load_private_key(pem: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        # `from None`: the loader's exception is dropped so nothing derived from the PEM travels on.
        raise CredentialsError(
            "could not load the private key: expected an unencrypted PEM RSA or Ed25519 key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise CredentialsError(f"unsupported private key type {type(key).__name__}")
    return key


def _read_ready_file(path: str | Path) -> dict[str, object]:
    try:
        ready = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read sim ready file {path}: {exc}") from exc
    if not isinstance(ready, dict):
        raise ConfigError(f"sim ready file {path} is not a JSON object")
    return ready


def base_url_for(env: str, url: str | None = None, ready_file: str | None = None) -> str:
    """The REST base URL (ending in ``/trade-api/v2``): an explicit ``url`` wins; ``sim`` reads the
    ready file written by ``dora sim``; ``demo``/``prod`` are Kalshi's recommended hosts."""
    if url:
        return url.rstrip("/")
    name = env.lower()
    if name in KALSHI_HOSTS:
        return KALSHI_HOSTS[name]
    if name == "sim":
        if not ready_file:
            raise ConfigError("env sim needs the simulator's ready file or an explicit URL")
        sim_url = _read_ready_file(ready_file).get("url")
        if not isinstance(sim_url, str) or not sim_url:
            raise ConfigError(f"sim ready file {ready_file} has no url")
        return sim_url.rstrip("/")
    raise ConfigError(f"unknown environment {env!r}; choose sim, demo or prod")
