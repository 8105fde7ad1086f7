"""The Kalshi V2 REST endpoints dora calls, as (method, path template relative to /trade-api/v2).

The template is also the key for costs (:mod:`dora.core.tiers`) and for the per-endpoint stats.
"""

from __future__ import annotations

from dataclasses import dataclass

from dora.core.tiers import Bucket, bucket_for, request_cost


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    template: str

    def __post_init__(self) -> None:
        if self.method not in {"GET", "POST", "PUT", "DELETE"} or not self.template.startswith("/"):
            raise ValueError(f"bad endpoint {self.method} {self.template}")

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def bucket(self) -> Bucket:
        return bucket_for(self.method, self.template)

    def cost(self, items: int = 1) -> int:
        return request_cost(self.method, self.template, items)


EXCHANGE_STATUS = Endpoint("GET", "/exchange/status")
ACCOUNT_LIMITS = Endpoint("GET", "/account/limits")
ENDPOINT_COSTS = Endpoint("GET", "/account/endpoint_costs")
USER_DATA_TIMESTAMP = Endpoint("GET", "/exchange/user_data_timestamp")
MARKETS = Endpoint("GET", "/markets")
ORDERBOOKS = Endpoint("GET", "/markets/orderbooks")
TRADES = Endpoint("GET", "/markets/trades")
BALANCE = Endpoint("GET", "/portfolio/balance")
POSITIONS = Endpoint("GET", "/portfolio/positions")
FILLS = Endpoint("GET", "/portfolio/fills")
SETTLEMENTS = Endpoint("GET", "/portfolio/settlements")
ORDERS = Endpoint("GET", "/portfolio/orders")
ORDER = Endpoint("GET", "/portfolio/orders/{order_id}")
QUEUE_POSITIONS = Endpoint("GET", "/portfolio/orders/queue_positions")

CREATE_ORDER = Endpoint("POST", "/portfolio/events/orders")
BATCH_CREATE = Endpoint("POST", "/portfolio/events/orders/batched")
CANCEL_ORDER = Endpoint("DELETE", "/portfolio/events/orders/{order_id}")
BATCH_CANCEL = Endpoint("DELETE", "/portfolio/events/orders/batched")
CANCEL_ALL = Endpoint("DELETE", "/portfolio/events/orders")
AMEND_ORDER = Endpoint("POST", "/portfolio/events/orders/{order_id}/amend")
DECREASE_ORDER = Endpoint("POST", "/portfolio/events/orders/{order_id}/decrease")

CREATE_GROUP = Endpoint("POST", "/portfolio/order_groups/create")
GROUPS = Endpoint("GET", "/portfolio/order_groups")
GROUP = Endpoint("GET", "/portfolio/order_groups/{group_id}")
DELETE_GROUP = Endpoint("DELETE", "/portfolio/order_groups/{group_id}")
RESET_GROUP = Endpoint("PUT", "/portfolio/order_groups/{group_id}/reset")
TRIGGER_GROUP = Endpoint("PUT", "/portfolio/order_groups/{group_id}/trigger")
GROUP_LIMIT = Endpoint("PUT", "/portfolio/order_groups/{group_id}/limit")
