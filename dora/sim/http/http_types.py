"""The small vocabulary the sim's routes speak: a parsed request, a response, an API error,
query-string access with strict types, and keyset cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

T = TypeVar("T")
SortKey = tuple[int | str, ...]


class ApiError(Exception):
    """An answer ``{"error": {"code", "message", "service"}}`` with HTTP ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_parameters", message)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for no body (204)
    lose_response: bool = False  # the write was applied but the client must not see the answer


class Query:
    """Typed access to a query string (``parse_qs`` output); malformed values -> 400."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def text(self, name: str) -> str | None:
        found = self._values.get(name)
        if not found or found[-1] == "":
            return None
        return found[-1]

    def integer(self, name: str) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise invalid(f"{name} must be an integer, got {raw!r}") from None

    def items(self, name: str) -> list[str]:
        """Every value of a repeated parameter, each also split on commas."""
        out: list[str] = []
        for value in self._values.get(name, []):
            out.extend(part for part in value.split(",") if part)
        return out

    def limit(self) -> int:
        value = self.integer("limit")
        if value is None:
            return DEFAULT_LIMIT
        if not 1 <= value <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
        return value

    def cursor(self) -> SortKey | None:
        raw = self.text("cursor")
        return None if raw is None else decode_cursor(raw)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # full path, without the query string
    template: str  # route template relative to the API prefix, e.g. "/portfolio/orders/{order_id}"
    params: dict[str, str]
    query: Query
    body: bytes
    user_id: str = ""  # set once authenticated
    headers: dict[str, str] = field(default_factory=dict)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; anything else is a 400."""
        try:
            value = json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise invalid("request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise invalid("request body must be a JSON object")
        return value


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> SortKey:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise invalid(f"malformed cursor {raw!r}") from None
    if not isinstance(value, list) or not all(
        isinstance(part, int | str) and not isinstance(part, bool) for part in value
    ):
        raise invalid(f"malformed cursor {raw!r}")
    return tuple(value)


def paginate(
    items: Sequence[T], key: Callable[[T], SortKey], query: Query
) -> tuple[list[T], str]:
    """One page in ``key`` order strictly after the cursor; the next cursor is "" on the last page.

    Keyset (not offset) cursors: items added before the cursor position never shift a later page.
    """
    after = query.cursor()
    limit = query.limit()
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if _after(key(item), after)]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, encode_cursor(key(page[-1])) if more else ""


def _after(candidate: SortKey, cursor: SortKey) -> bool:
    try:
        return candidate > cursor
    except TypeError:
        raise invalid("cursor does not belong to this listing") from None
