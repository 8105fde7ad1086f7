"""Optimistic locking for the ``dora_state`` items.

Every state item carries a ``version``. A write is conditional on the version this process last
read or wrote (``attribute_not_exists(version)`` when it saw none: the item was absent, or an
older writer left it without a version), and stores version + 1. When the condition fails, the
item is read back once: if it already equals what was written, the first attempt landed and only
its acknowledgement was lost (the SDK retried a write that had succeeded); otherwise another
writer got there first and StaleWriteError is raised.

A write whose every answer was lost (a StoreError after it was sent: the SDK's retries spent, or
the one attempt a stop budget allows) may have landed all the same. Its items are remembered as
unsettled, and the next write of any of them first reads them back: an item stored exactly as it
was sent landed, and its version is taken; otherwise the remembered version stands (the write did
not land, or another writer has been there since, which the next write's condition then finds).

With a fence (the shard lease's ConditionCheck, :mod:`dora.store.lease`), every write is a
transaction that also checks the lease: a process that lost its lease cannot save, and gets
LeaseLostError; a process without a lease never sends a state write at all (the fence raises).

An item whose map field outgrows one DynamoDB item is written as a head and continuation pages in
the same one transaction (:mod:`dora.store.paging`), under the same version condition and fence;
reads join them back, and only the head is versioned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from dora.core.errors import LeaseLostError, StaleWriteError, StoreError
from dora.runtime.clock import Clock
from dora.store.codec import int_from_item, to_item
from dora.store.paging import (
    HEAD_VERSION,
    TRANSACTION_ACTIONS,
    TRANSACTION_BYTES,
    ItemTooLarge,
    Paging,
    Split,
    item_size,
    join,
    page_field,
    page_key,
    page_keys,
    pages_of,
    split,
)
from dora.store.tables import error_code, store_boundary

BATCH_GET_ROUNDS = 6
BATCH_GET_KEYS = 100  # DynamoDB's most keys in one BatchGetItem
CONDITION_FAILED = "ConditionalCheckFailed"
Fence = Callable[[], dict[str, Any]]  # the lease's ConditionCheck action; raises without a lease
PAGED_READ_ROUNDS = 3  # a paged item re-read when a write landed between its head and pages


def version_of(item: Mapping[str, Any] | None) -> int:
    return int_from_item(item.get("version")) if item else 0


def _condition(expected: int) -> dict[str, Any]:
    if expected == 0:
        return {"ConditionExpression": "attribute_not_exists(#v)",
                "ExpressionAttributeNames": {"#v": "version"}}
    return {"ConditionExpression": "#v = :expected",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":expected": expected}}


@dataclass(frozen=True, slots=True)
class _Sent:
    """A versioned write's head item as sent, and how many items (head and pages) it took."""

    head: Mapping[str, Any]
    pages: int


class VersionedItems:
    def __init__(self, resource: Callable[[], Any], table_name: str, clock: Clock) -> None:
        """``resource()`` gives the boto3 resource for the next call."""
        self._resource = resource
        self._name = table_name
        self._clock = clock
        self._versions: dict[str, int] = {}
        self._fence: Fence | None = None
        self._pages: dict[str, int] = {}  # key -> items it took when last read or written
        self._unsettled: dict[str, _Sent] = {}  # key -> a write sent whose answer never came

    def fence_with(self, fence: Fence | None) -> None:
        """Send every later write together with ``fence()``'s condition."""
        self._fence = fence

    @property
    def _table(self) -> Any:
        return self._resource().Table(self._name)

    @property
    def versions(self) -> dict[str, int]:
        return dict(self._versions)

    def read(self, keys: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Consistent read of several items (paged ones joined); remembers their versions."""
        found = self._read_joined(keys)
        for key in keys:
            self._versions[key] = version_of(found.get(key))
            self._unsettled.pop(key, None)
        return {key: found.get(key) for key in keys}

    def peek(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Consistent reads of the items that exist, without remembering their versions."""
        return self._batch_get(keys)

    def get(self, key: str) -> dict[str, Any] | None:
        """A consistent read (a paged item joined) that does not change the remembered
        version."""
        return self._read_joined([key]).get(key)

    def put(self, key: str, body: Mapping[str, Any], paging: Paging | None = None) -> int:
        """Write one item, conditional on its version; ``paging``: it may be split into pages
        (see :meth:`put_together`). Returns the entries left out (only with ``paging``)."""
        if self._fence is not None or paging is not None or self._pages.get(key, 1) > 1:
            return self.put_together({key: body}, {key: paging} if paging else {})
        self._settle([key])
        expected = self._versions.get(key, 0)
        item = to_item({**body, "key": key, "version": expected + 1})
        with self._unsettled_on_failure({key: _Sent(item, 1)}), \
                store_boundary(f"save state item {key}"):
            try:
                self._table.put_item(Item=item, **_condition(expected))
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED + "Exception":
                    raise
                self._resolve_conflict({key: item}, [], exc)
        self._versions[key] = expected + 1
        return 0

    def put_together(
        self, bodies: Mapping[str, Mapping[str, Any]], paging: Mapping[str, Paging] | None = None,
    ) -> int:
        """Write several state items in one transaction, each conditional on its version (and
        the whole on the lease, when fenced). An item named in ``paging`` that does not fit in
        one item goes as a head and pages, and pages an item no longer needs are deleted, all in
        the same transaction. Returns the entries left out, all items together (only an item
        whose paging allows it leaves any out)."""
        fence = self._fence() if self._fence is not None else None
        self._settle(list(bodies))
        items, heads, deleted, left_out = self._pieces(bodies, paging or {})
        actions = [self._transact_put(key, item, versioned=key in heads)
                   for key, item in items.items()]
        actions += [{"Delete": {"TableName": self._name, "Key": {"key": key}}} for key in deleted]
        if fence is not None:
            actions.append(fence)
        _check_transaction(actions)
        sent = {key: _Sent(items[key], pages) for key, pages in heads.items()}
        with self._unsettled_on_failure(sent), \
                store_boundary(f"save state items {', '.join(heads)}"):
            try:
                self._resource().meta.client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if not self._condition_failed(exc):
                    raise
                self._resolve_conflict(items, deleted, exc, fenced=fence is not None)
        for key, pages in heads.items():
            self._versions[key] = int(items[key]["version"])
            self._pages[key] = pages
        return left_out

    @contextmanager
    def _unsettled_on_failure(self, sent: Mapping[str, _Sent]) -> Iterator[None]:
        """Remember ``sent`` when the write ends in a StoreError: it may have landed."""
        try:
            yield
        except StoreError as exc:
            if not isinstance(exc, StaleWriteError):  # a refused write did not land
                self._unsettled.update(sent)
            raise

    def _settle(self, keys: Sequence[str]) -> None:
        """For each of ``keys`` written before without an answer, take the version of that
        write when it landed (the item is stored exactly as it was sent)."""
        unsure = [key for key in keys if key in self._unsettled]
        if not unsure:
            return
        stored = self._batch_get(unsure)
        for key in unsure:
            sent = self._unsettled.pop(key)
            if stored.get(key) == sent.head:
                self._versions[key] = version_of(sent.head)
                self._pages[key] = sent.pages

    def _pieces(
        self, bodies: Mapping[str, Mapping[str, Any]], paging: Mapping[str, Paging]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, int], list[str], int]:
        """The items to put (heads, each with its next version, and their pages naming it), how
        many items each head takes, the pages no longer needed, and the entries left out."""
        items: dict[str, dict[str, Any]] = {}
        heads: dict[str, int] = {}
        deleted: list[str] = []
        left_out = 0
        for key, body in bodies.items():
            version = self._versions.get(key, 0) + 1
            parts = self._split(key, to_item(body), paging.get(key))
            left_out += parts.left_out
            items[key] = {**parts.head, "key": key, "version": version}
            for number, page in enumerate(parts.pages, start=2):
                at = page_key(key, number)
                items[at] = {**page, "key": at, HEAD_VERSION: version}
            heads[key] = 1 + len(parts.pages)
            deleted += page_keys(key, self._pages.get(key, 1))[len(parts.pages):]
        return items, heads, deleted, left_out

    @staticmethod
    def _split(key: str, body: dict[str, Any], paging: Paging | None) -> Split:
        if paging is None:
            return Split(body, [])
        try:
            return split(body, paging.field, may_leave_out=paging.may_leave_out)
        except ItemTooLarge as exc:
            raise StoreError(f"state item {key} does not fit even in pages: {exc}") from exc

    def _transact_put(
        self, key: str, item: Mapping[str, Any], *, versioned: bool
    ) -> dict[str, Any]:
        # The resource's client serializes plain values itself (boto3 registers that on it).
        condition = _condition(self._versions.get(key, 0)) if versioned else {}
        return {"Put": {"TableName": self._name, "Item": dict(item), **condition}}

    @staticmethod
    def _condition_failed(exc: ClientError) -> bool:
        if error_code(exc) != "TransactionCanceledException":
            return False
        reasons = exc.response.get("CancellationReasons") or []
        return any(r.get("Code") == CONDITION_FAILED for r in reasons)

    def _resolve_conflict(
        self, written: Mapping[str, Mapping[str, Any]], deleted: Sequence[str], exc: ClientError,
        *, fenced: bool = False,
    ) -> None:
        current = self._batch_get([*written, *deleted])
        if all(current.get(key) == item for key, item in written.items()) and not any(
                key in current for key in deleted):
            return
        reasons = exc.response.get("CancellationReasons") or []
        if fenced and reasons and reasons[-1].get("Code") == CONDITION_FAILED:
            raise LeaseLostError(
                f"state items {sorted(written)} not saved: this process no longer holds the "
                f"lease they are fenced by") from exc
        stale = sorted(k for k, item in written.items()
                       if current.get(k) != item and HEAD_VERSION not in item)
        found = {k: version_of(current.get(k)) for k in stale}
        raise StaleWriteError(
            f"state items {stale} were changed by another writer (stored versions {found}, "
            f"expected {[self._versions.get(k, 0) for k in stale]})"
        ) from exc

    def _read_joined(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The items, paged ones joined; a paged item whose pages do not all name its head's
        version (a write landed between the reads) is read again."""
        for _ in range(PAGED_READ_ROUNDS):
            found = self._batch_get(keys)
            wanted = [k for key in keys for k in page_keys(key, pages_of(found.get(key)))]
            pages = self._batch_get(wanted) if wanted else {}
            joined = {key: self._joined(key, item, pages) for key, item in found.items()}
            if all(item is not None for item in joined.values()):
                for key in keys:
                    self._pages[key] = pages_of(found.get(key))
                return {key: item for key, item in joined.items() if item is not None}
        raise StoreError(f"state items {list(keys)}: pages kept changing while read")

    @staticmethod
    def _joined(key: str, head: dict[str, Any],
                pages: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
        """The head with its pages' entries, or None when a page is missing or belongs to
        another version of the head."""
        count = pages_of(head)
        if count == 1:
            return head
        mine = [pages.get(at) for at in page_keys(key, count)]
        version = version_of(head)
        if any(page is None or int_from_item(page.get(HEAD_VERSION)) != version
               for page in mine):
            return None
        present = [page for page in mine if page is not None]
        return join(head, present, page_field(head, present))

    def _batch_get(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_KEYS):
            found.update(self._batch_get_some(keys[start:start + BATCH_GET_KEYS]))
        return found

    def _batch_get_some(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        pending: list[dict[str, str]] = [{"key": key} for key in keys]
        found: dict[str, dict[str, Any]] = {}
        with store_boundary(f"read state items {', '.join(keys)}"):
            for attempt in range(BATCH_GET_ROUNDS):
                response = self._resource().batch_get_item(
                    RequestItems={self._name: {"Keys": pending, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(self._name, []):
                    found[str(item["key"])] = dict(item)
                pending = response.get("UnprocessedKeys", {}).get(self._name, {}).get("Keys", [])
                if not pending:
                    return found
                self._clock.sleep(0.05 * 2**attempt)
        raise StoreError(f"DynamoDB left state items unread after {BATCH_GET_ROUNDS} rounds")


def _check_transaction(actions: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, before sending, a transaction DynamoDB would refuse (docs/aws-notes.md#item-size):
    more actions than it takes, or more bytes than its total allows."""
    size = sum(item_size(a["Put"]["Item"]) for a in actions if "Put" in a)
    if len(actions) > TRANSACTION_ACTIONS or size > TRANSACTION_BYTES:
        raise StoreError(f"state write of {len(actions)} actions and about {size} bytes exceeds "
                         f"one transaction ({TRANSACTION_ACTIONS} actions, "
                         f"{TRANSACTION_BYTES} bytes)")
