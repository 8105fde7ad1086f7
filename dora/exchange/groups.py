"""Order groups: a rolling 15 s matched-contracts limit over a set of orders
(docs/kalshi-notes.md#order-groups).

Creating a group is sent once (a repeat would make a second group); reset, trigger, limit update
and delete are idempotent and retried like reads. Failures raise dora errors.
"""

from __future__ import annotations

from dora.core.errors import NotFoundError
from dora.core.models import OrderGroup
from dora.core.units import Count
from dora.exchange import endpoints as ep
from dora.exchange import wire, wire_reads
from dora.exchange.http import ApiRequest, Transport


class OrderGroups:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create_order_group(self, contracts_limit: Count) -> str:
        if contracts_limit <= 0:
            raise ValueError(f"contracts_limit must be positive, got {contracts_limit}")
        body = self._transport.call(
            ApiRequest(ep.CREATE_GROUP, body=wire.group_limit_body(contracts_limit), retry=False)
        )
        return wire_reads.parse_group_created(body)

    def fetch_order_group(self, group_id: str) -> OrderGroup:
        body = self._transport.call(ApiRequest(ep.GROUP, path_args={"group_id": group_id}))
        return wire_reads.parse_group(group_id, body)

    def fetch_order_groups(self) -> list[OrderGroup]:
        return wire_reads.parse_groups(self._transport.call(ApiRequest(ep.GROUPS)))

    def reset_order_group(self, group_id: str) -> None:
        self._transport.call(ApiRequest(ep.RESET_GROUP, path_args={"group_id": group_id}))

    def trigger_order_group(self, group_id: str) -> None:
        self._transport.call(ApiRequest(ep.TRIGGER_GROUP, path_args={"group_id": group_id}))

    def update_order_group_limit(self, group_id: str, contracts_limit: Count) -> None:
        if contracts_limit <= 0:
            raise ValueError(f"contracts_limit must be positive, got {contracts_limit}")
        self._transport.call(ApiRequest(ep.GROUP_LIMIT, path_args={"group_id": group_id},
                                        body=wire.group_limit_body(contracts_limit)))

    def delete_order_group(self, group_id: str) -> None:
        """A group that is already gone counts as deleted (a retried delete may find it so)."""
        try:
            self._transport.call(ApiRequest(ep.DELETE_GROUP, path_args={"group_id": group_id}))
        except NotFoundError:
            return
