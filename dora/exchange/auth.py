"""Request signing for Kalshi's API-key auth (docs/kalshi-notes.md#auth). Pure: no I/O, no clock.

Signed text = ``timestamp_ms + METHOD + path``, where path is the full path from the host root
(including ``/trade-api/v2``) without the query string.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from dora.core.models import TsMs

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"


class Signer(Protocol):
    key_id: str

    def sign(self, message: bytes) -> str: ...


def signing_message(ts_ms: TsMs, method: str, path: str) -> bytes:
    """The exact bytes Kalshi verifies; any query string (or scheme/host) in ``path`` is dropped."""
    bare_path = urlsplit(path).path
    return f"{ts_ms}{method.upper()}{bare_path}".encode()


def auth_headers(signer: Signer, ts_ms: TsMs, method: str, path: str) -> dict[str, str]:
    return {
        KEY_HEADER: signer.key_id,
        TIMESTAMP_HEADER: str(ts_ms),
        SIGNATURE_HEADER: signer.sign(signing_message(ts_ms, method, path)),
    }
