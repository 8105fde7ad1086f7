"""Optimistic locking for the ``dora_state`` items.

Every state item carries a ``version``. A write is conditional on the version this process last
read or wrote (``attribute_not_exists(version)`` when it saw none: the item was absent, or an
older writer left it without a version), and stores version + 1. When the condition fails, the
item is read back once: if it already equals what was written, the first attempt landed and only
its acknowledgement was lost (the SDK retried a write that had succeeded); otherwise another
writer got there first and StaleWriteError is raised.

With a fence (the shard lease's ConditionCheck, :mod:`dora.store.lease`), every write is a
transaction that also checks the lease: a process that lost its lease cannot save, and gets
LeaseLostError; a process without a lease never sends a state write at all (the fence raises).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from dora.core.errors import LeaseLostError, StaleWriteError, StoreError
from dora.runtime.clock import Clock
from dora.store.codec import int_from_item, to_item
from dora.store.tables import error_code, store_boundary

BATCH_GET_ROUNDS = 6
CONDITION_FAILED = "ConditionalCheckFailed"
Fence = Callable[[], dict[str, Any]]  # the lease's ConditionCheck action; raises without a lease


def version_of(item: Mapping[str, Any] | None) -> int:
    return int_from_item(item.get("version")) if item else 0


def _condition(expected: int) -> dict[str, Any]:
    if expected == 0:
        return {"ConditionExpression": "attribute_not_exists(#v)",
                "ExpressionAttributeNames": {"#v": "version"}}
    return {"ConditionExpression": "#v = :expected",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":expected": expected}}


class VersionedItems:
    def __init__(self, resource: Callable[[], Any], table_name: str, clock: Clock) -> None:
        """``resource()`` gives the boto3 resource for the next call."""
        self._resource = resource
        self._name = table_name
        self._clock = clock
        self._versions: dict[str, int] = {}
        self._fence: Fence | None = None

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
        """Consistent read of several items in one round trip; remembers their versions."""
        found = self._batch_get(keys)
        for key in keys:
            self._versions[key] = version_of(found.get(key))
        return {key: found.get(key) for key in keys}

    def peek(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Consistent reads of the items that exist, without remembering their versions."""
        return self._batch_get(keys)

    def get(self, key: str) -> dict[str, Any] | None:
        """A consistent read that does not change the remembered version."""
        with store_boundary(f"read state item {key}"):
            item = self._table.get_item(Key={"key": key}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def put(self, key: str, body: Mapping[str, Any]) -> None:
        if self._fence is not None:
            self.put_together({key: body})
            return
        expected = self._versions.get(key, 0)
        item = to_item({**body, "key": key, "version": expected + 1})
        with store_boundary(f"save state item {key}"):
            try:
                self._table.put_item(Item=item, **_condition(expected))
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED + "Exception":
                    raise
                self._resolve_conflict({key: item}, exc)
        self._versions[key] = expected + 1

    def put_together(self, bodies: Mapping[str, Mapping[str, Any]]) -> None:
        """Write several state items in one transaction, each conditional on its version (and
        the whole on the lease, when fenced)."""
        fence = self._fence() if self._fence is not None else None
        items = {
            key: to_item({**body, "key": key, "version": self._versions.get(key, 0) + 1})
            for key, body in bodies.items()
        }
        actions = [self._transact_put(key, item) for key, item in items.items()]
        if fence is not None:
            actions.append(fence)
        with store_boundary(f"save state items {', '.join(items)}"):
            try:
                self._resource().meta.client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if not self._condition_failed(exc):
                    raise
                self._resolve_conflict(items, exc, fenced=fence is not None)
        for key, item in items.items():
            self._versions[key] = int(item["version"])

    def _transact_put(self, key: str, item: Mapping[str, Any]) -> dict[str, Any]:
        # The resource's client serializes plain values itself (boto3 registers that on it).
        return {"Put": {"TableName": self._name, "Item": dict(item),
                        **_condition(self._versions.get(key, 0))}}

    @staticmethod
    def _condition_failed(exc: ClientError) -> bool:
        if error_code(exc) != "TransactionCanceledException":
            return False
        reasons = exc.response.get("CancellationReasons") or []
        return any(r.get("Code") == CONDITION_FAILED for r in reasons)

    def _resolve_conflict(
        self, written: Mapping[str, Mapping[str, Any]], exc: ClientError, *, fenced: bool = False
    ) -> None:
        current = self._batch_get(list(written))
        if all(current.get(key) == item for key, item in written.items()):
            return
        reasons = exc.response.get("CancellationReasons") or []
        if fenced and len(reasons) > len(written) and \
                reasons[len(written)].get("Code") == CONDITION_FAILED:
            raise LeaseLostError(
                f"state items {sorted(written)} not saved: this process no longer holds the "
                f"lease they are fenced by") from exc
        stale = sorted(k for k, item in written.items() if current.get(k) != item)
        found = {k: version_of(current.get(k)) for k in stale}
        raise StaleWriteError(
            f"state items {stale} were changed by another writer (stored versions {found}, "
            f"expected {[self._versions.get(k, 0) for k in stale]})"
        ) from exc

    def _batch_get(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
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
