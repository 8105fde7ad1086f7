"""Shard leases: one ``dora_state`` item per shard (``lease#<index>``), written only with conditions
(docs/aws-notes.md#lease).

The item holds the owner (run id and task), the epoch (the fencing token, one more at every
acquisition), a record version number (``rvn``, new on every write), the lease duration its holder
promised to renew within, the wall-clock expiry (for people; no decision uses it), the layout (how
many shards), the epoch's order group and the groups of earlier epochs still to delete. Items are
never deleted, so an epoch never repeats.

- acquire: a Put conditional on the record version the contender saw (or on the item's absence);
- renew / set the group: an Update conditional on owner and epoch;
- release: the same condition, clearing the owner;
- fence: a ConditionCheck on owner and epoch, sent in the same transaction as every state write.

A write whose condition fails is re-read before it counts as lost: if the item already carries the
record version this process wrote, the first attempt landed and only its answer was lost
(docs/aws-notes.md#lost-acknowledgements).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from dora.core.errors import LeaseLostError, StoreError
from dora.core.models import TsMs
from dora.store.codec import int_from_item
from dora.store.tables import error_code, store_boundary

CONDITION_FAILED = "ConditionalCheckFailedException"
_HELD = "#owner = :owner AND #epoch = :epoch"
_NAMES = {"#owner": "owner", "#epoch": "epoch"}


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    key: str
    owner: str = ""  # empty once released
    epoch: int = 0
    rvn: str = ""
    lease_ms: int = 0
    expires_at_ms: TsMs = 0
    renewed_at_ms: TsMs = 0
    shards: int = 1
    order_group_id: str = ""
    retired_groups: tuple[str, ...] = ()
    group_reset_ms: TsMs = 0  # when an operator last asked for the group's reset

    @property
    def released(self) -> bool:
        return not self.owner


def parse_lease(item: Mapping[str, Any]) -> LeaseRecord:
    return LeaseRecord(
        key=str(item["key"]),
        owner=str(item.get("owner") or ""),
        epoch=int_from_item(item.get("epoch")),
        rvn=str(item.get("rvn") or ""),
        lease_ms=int_from_item(item.get("lease_ms")),
        expires_at_ms=int_from_item(item.get("expires_at_ms")),
        renewed_at_ms=int_from_item(item.get("renewed_at_ms")),
        shards=int_from_item(item.get("shards")) or 1,
        order_group_id=str(item.get("order_group_id") or ""),
        retired_groups=tuple(str(g) for g in item.get("retired_groups") or ()),
        group_reset_ms=int_from_item(item.get("group_reset_ms")),
    )


def _item(record: LeaseRecord) -> dict[str, Any]:
    return {
        "key": record.key, "owner": record.owner, "epoch": record.epoch, "rvn": record.rvn,
        "lease_ms": record.lease_ms, "expires_at_ms": record.expires_at_ms,
        "renewed_at_ms": record.renewed_at_ms, "shards": record.shards,
        "order_group_id": record.order_group_id, "retired_groups": list(record.retired_groups),
        "group_reset_ms": record.group_reset_ms,
    }


def _new_rvn() -> str:
    return uuid.uuid4().hex


class LeaseStore:
    def __init__(self, resource: Callable[[], Any], table_name: str, *,
                 new_rvn: Callable[[], str] = _new_rvn) -> None:
        """``resource()`` gives the boto3 resource for the next call."""
        self._resource = resource
        self.table_name = table_name
        self._new_rvn = new_rvn

    @property
    def _table(self) -> Any:
        return self._resource().Table(self.table_name)

    def read(self, keys: Sequence[str]) -> dict[str, LeaseRecord]:
        """Consistent reads of the lease items that exist, in one round trip."""
        request = {self.table_name: {"Keys": [{"key": k} for k in keys], "ConsistentRead": True}}
        found: dict[str, LeaseRecord] = {}
        with store_boundary("read leases"):
            while request:
                response = self._resource().batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    record = parse_lease(item)
                    found[record.key] = record
                request = response.get("UnprocessedKeys") or {}
        return found

    def read_one(self, key: str) -> LeaseRecord | None:
        with store_boundary(f"read lease {key}"):
            item = self._table.get_item(Key={"key": key}, ConsistentRead=True).get("Item")
        return parse_lease(item) if item else None

    def acquire(
        self, key: str, seen: LeaseRecord | None, *, owner: str, lease_ms: int, shards: int,
        now_ms: TsMs, retire: Sequence[str] = (),
    ) -> LeaseRecord | None:
        """Take the lease if it is still as ``seen`` (None: absent). The new record carries the
        next epoch, no group yet, and every group of earlier epochs still to delete (``seen``'s
        group and retired ones, plus ``retire``). None when another process got there first."""
        retired = [*(seen.retired_groups if seen else ()),
                   *([seen.order_group_id] if seen and seen.order_group_id else []), *retire]
        record = LeaseRecord(
            key=key, owner=owner, epoch=(seen.epoch if seen else 0) + 1, rvn=self._new_rvn(),
            lease_ms=lease_ms, expires_at_ms=now_ms + lease_ms, renewed_at_ms=now_ms,
            shards=shards, retired_groups=tuple(dict.fromkeys(retired)),
            group_reset_ms=seen.group_reset_ms if seen else 0,
        )
        if seen is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#key)",
                                         "ExpressionAttributeNames": {"#key": "key"}}
        else:
            condition = {"ConditionExpression": "#rvn = :seen",
                         "ExpressionAttributeNames": {"#rvn": "rvn"},
                         "ExpressionAttributeValues": {":seen": seen.rvn}}
        with store_boundary(f"acquire lease {key}"):
            try:
                self._table.put_item(Item=_item(record), **condition)
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                current = self.read_one(key)
                return current if current is not None and current.rvn == record.rvn else None
        return record

    def renew(
        self, held: LeaseRecord, *, now_ms: TsMs, lease_ms: int,
        order_group_id: str | None = None, retired_groups: Sequence[str] | None = None,
    ) -> LeaseRecord:
        """Extend the lease (and set the epoch's group or the retired list); LeaseLostError when
        another process holds it now or it was released."""
        changes: dict[str, Any] = {"rvn": self._new_rvn(), "lease_ms": lease_ms,
                                   "expires_at_ms": now_ms + lease_ms, "renewed_at_ms": now_ms}
        if order_group_id is not None:
            changes["order_group_id"] = order_group_id
        if retired_groups is not None:
            changes["retired_groups"] = list(retired_groups)
        current = self._update_held(held, changes, f"renew lease {held.key}")
        if current.rvn == changes["rvn"]:
            return current
        raise LeaseLostError(f"lease {held.key} epoch {held.epoch} is gone: now epoch "
                             f"{current.epoch}, owner {current.owner or 'nobody (released)'}")

    def release(self, held: LeaseRecord, *, now_ms: TsMs) -> None:
        """Give the lease up (a standby may take it at once). Already gone counts as done."""
        changes = {"owner": "", "rvn": self._new_rvn(), "expires_at_ms": 0,
                   "renewed_at_ms": now_ms}
        self._update_held(held, changes, f"release lease {held.key}")

    def request_group_reset(self, key: str, group_id: str, now_ms: TsMs) -> bool:
        """An operator's reset of a triggered group, recorded for its holder: False when the
        lease now has another group."""
        with store_boundary(f"record a reset of {key}'s order group"):
            try:
                self._table.update_item(
                    Key={"key": key}, UpdateExpression="SET #reset = :now",
                    ConditionExpression="#group = :group",
                    ExpressionAttributeNames={"#reset": "group_reset_ms",
                                              "#group": "order_group_id"},
                    ExpressionAttributeValues={":now": now_ms, ":group": group_id},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                return False
        return True

    def fence_check(self, held: LeaseRecord) -> dict[str, Any]:
        """A TransactWriteItems action that fails unless ``held`` is still this shard's lease."""
        return {"ConditionCheck": {
            "TableName": self.table_name, "Key": {"key": held.key},
            "ConditionExpression": _HELD, "ExpressionAttributeNames": dict(_NAMES),
            "ExpressionAttributeValues": {":owner": held.owner, ":epoch": held.epoch},
        }}

    def _update_held(
        self, held: LeaseRecord, changes: Mapping[str, Any], action: str
    ) -> LeaseRecord:
        """The item as it is after the update, or as it is now when its condition failed."""
        names = {**_NAMES, **{f"#c{i}": name for i, name in enumerate(changes)}}
        values: dict[str, Any] = {":owner": held.owner, ":epoch": held.epoch}
        values.update({f":c{i}": value for i, value in enumerate(changes.values())})
        assignments = ", ".join(f"#c{i} = :c{i}" for i in range(len(changes)))
        with store_boundary(action):
            try:
                response = self._table.update_item(
                    Key={"key": held.key}, UpdateExpression=f"SET {assignments}",
                    ConditionExpression=_HELD, ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                current = self.read_one(held.key)
                if current is None:
                    raise StoreError(f"{action}: the lease item is gone") from exc
                return current
        return parse_lease(response["Attributes"])
