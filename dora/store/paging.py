"""State items that outgrow one DynamoDB item: a head in the original item plus continuation
items (docs/compatibility.md#paged-items, docs/aws-notes.md#item-size).

DynamoDB refuses an item over 400 KB. A state item whose size grows with the markets (the resting
orders of 1,000 markets, many positions, many recent fills) is split on its one large map field:

- the head keeps the item's key and shape, every other field and as many of the map's entries as
  fit, plus ``pages`` (how many items hold the map, the head included);
- continuation items ``<key>.page2`` .. ``<key>.page<n>`` hold the rest of the map under the same
  field, and ``head_version``: the head's version they belong to.

A reader that knows nothing of pages reads the head as before and sees the first entries. dora
reads the head and its pages and joins them, and takes them only when every page names the
head's version. All of them are written in one transaction with the head's version condition
(and pages a shrinking item no longer needs are deleted in it), so a reader never sees a mix
that was never written and a crash never leaves one.

Sizes are estimated by AWS's published rules, rounded up, and never below what the local
endpoint (moto) counts, so a page that fits here fits there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ITEM_LIMIT = 400 * 1024  # DynamoDB's largest item, in bytes
PAGE_BYTES = 300 * 1024  # one item's budget for map entries: the rest of the item fits beside
MAX_PAGES = 10  # 10 pages of 300 KB stay within a transaction's 4 MB
TRANSACTION_ACTIONS = 100  # DynamoDB's most actions in one TransactWriteItems
TRANSACTION_BYTES = 4 * 1024 * 1024  # and its most bytes, all items together
PAGES = "pages"
HEAD_VERSION = "head_version"
LEFT_OUT = "left_out"
_PAGE_MARK = ".page"


class ItemTooLarge(ValueError):
    """Even split into the most pages allowed, the item does not fit."""


@dataclass(frozen=True, slots=True)
class Paging:
    """How a state item may be paged: on its map ``field``; ``may_leave_out``: past the most
    pages allowed, the entries that do not fit are left out (for an item kept for display)."""

    field: str
    may_leave_out: bool = False


def page_key(key: str, number: int) -> str:
    """The key of page ``number`` (2 and up; page 1 is the head itself)."""
    return f"{key}{_PAGE_MARK}{number}"


def page_keys(key: str, pages: int) -> list[str]:
    return [page_key(key, n) for n in range(2, pages + 1)]


def size_of(value: Any) -> int:
    """Bytes a stored value counts for (a number: its digits and sign plus one, the most either
    AWS's or moto's rule gives; a map or list: 3 plus 1 per element, names included)."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | Decimal):
        return len(str(value)) + 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, Mapping):
        return 3 + sum(len(str(k).encode()) + size_of(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(size_of(v) + 1 for v in value)
    raise TypeError(f"no size rule for {type(value).__name__}")


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + size_of(value) for name, value in item.items())


@dataclass(frozen=True, slots=True)
class Split:
    """An item body as a head and continuation pages (none when it fits in one item)."""

    head: dict[str, Any]
    pages: list[dict[str, Any]]  # bodies of pages 2..n, in order
    left_out: int = 0  # entries that did not fit in MAX_PAGES (only when allowed)


def split(body: Mapping[str, Any], field: str, *, may_leave_out: bool = False) -> Split:
    """``body`` as it is when it fits in one item, else its ``field`` map spread over a head and
    continuation pages in the map's order. More than ``MAX_PAGES`` pages raise ItemTooLarge,
    unless ``may_leave_out``: then the entries that do not fit are left out and counted in the
    head (``left_out``). The limits are read when called (tests shrink them)."""
    if item_size(body) + 64 <= ITEM_LIMIT:  # 64: the key and version the store adds
        return Split(dict(body), [])
    entries: Mapping[str, Any] = body[field]
    rest = {k: v for k, v in body.items() if k != field}
    head_room = PAGE_BYTES - item_size(rest) - 64
    if head_room <= 0:
        raise ItemTooLarge(f"the fields beside {field!r} take {item_size(rest)} bytes")
    chunks, left_out = _chunks(entries, [head_room] + [PAGE_BYTES] * (MAX_PAGES - 1))
    if left_out and not may_leave_out:
        raise ItemTooLarge(
            f"{len(entries)} entries of {field!r} need more than {MAX_PAGES} items")
    head = {**rest, field: chunks[0], PAGES: len(chunks)}
    if left_out:
        head[LEFT_OUT] = left_out
    return Split(head, [{field: chunk} for chunk in chunks[1:]], left_out)


def _chunks(entries: Mapping[str, Any], budgets: list[int]) -> tuple[list[dict[str, Any]], int]:
    chunks: list[dict[str, Any]] = [{}]
    room = budgets[0]
    for placed, (name, value) in enumerate(entries.items()):
        size = len(str(name).encode()) + size_of(value) + 1
        if size > room:
            if len(chunks) == len(budgets):
                return chunks, len(entries) - placed
            chunks.append({})
            room = budgets[len(chunks) - 1]
            if size > room:
                raise ItemTooLarge(f"one entry ({name!r}) takes {size} bytes")
        chunks[-1][name] = value
        room -= size
    return chunks, 0


def join(head: Mapping[str, Any], pages: Sequence[Mapping[str, Any]], field: str) -> dict[str, Any]:
    """The head with every page's entries of ``field`` added, in page order."""
    joined = dict(head)
    entries = dict(head.get(field) or {})
    for page in pages:
        entries.update(page.get(field) or {})
    joined[field] = entries
    return joined


def page_field(head: Mapping[str, Any], pages: Sequence[Mapping[str, Any]]) -> str:
    """The map field the pages continue: the one field the pages carry beside the key and
    ``head_version``."""
    names = {n for page in pages for n in page} - {"key", HEAD_VERSION}
    field = next(iter(names)) if len(names) == 1 else ""
    if not field or not isinstance(head.get(field), Mapping):
        raise ValueError(f"pages of {head.get('key')!r} carry fields {sorted(names)}")
    return field


def pages_of(item: Mapping[str, Any] | None) -> int:
    """How many items hold this item's content (1 unless it is a paged head)."""
    if not item:
        return 1
    value = item.get(PAGES)
    return int(value) if isinstance(value, int | Decimal) and value > 1 else 1
