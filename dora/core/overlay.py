"""The read-lag overlay: what the exchange's read endpoints may not show yet. Pure.

Kalshi's REST user data lags writes (``GET /exchange/user_data_timestamp`` says how far).
Without a correction the loop would re-cancel orders it already cancelled (404) and re-place
orders it already placed (double quotes). The overlay remembers our own writes until the
exchange's as-of time passes them, and corrects each listing:

- an order we placed (or whose create outcome is unknown) but not listed yet counts as resting;
- an order we cancelled that is still listed does not;
- an order we decreased is shown at its new size;
- an order whose expiry we renewed (or whose renewal's answer was lost) shows the new expiry, so
  a lagging listing does not make dora renew it twice.

A cancel is remembered from the moment the exchange said the order was gone (its own ``ts_ms``,
else when its answer arrived, never earlier) until a listing as of a later moment no longer shows
the order: an order the exchange called gone can never rest again, so dora never cancels it twice.
A triggered order group is remembered the same way: a listing as of before the trigger's answer
shows none of the group's orders (the exchange cancelled them all, whether dora knew them or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from dora.core.models import OrderRequest, RestingOrder, TsMs

UNKNOWN_ORDER_PREFIX = "unknown:"


def is_unconfirmed(order: RestingOrder) -> bool:
    """An order whose create outcome is unknown: it has no exchange id to cancel by yet."""
    return order.order_id.startswith(UNKNOWN_ORDER_PREFIX)


def unconfirmed_order(request: OrderRequest, sent_ms: TsMs) -> RestingOrder:
    return RestingOrder(
        order_id=UNKNOWN_ORDER_PREFIX + request.client_order_id,
        client_order_id=request.client_order_id,
        ticker=request.ticker,
        side=request.side,
        price=request.price,
        remaining=request.count,
        created_ms=sent_ms,
        expires_ms=request_expiry_ms(request),
    )


def request_expiry_ms(request: OrderRequest) -> TsMs:
    return 0 if request.expiration_s is None else request.expiration_s * 1000


@dataclass
class Overlay:
    placed: dict[str, tuple[RestingOrder, TsMs]] = field(default_factory=dict)  # by client id
    cancelled: dict[str, TsMs] = field(default_factory=dict)  # by order id
    decreased: dict[str, tuple[int, TsMs]] = field(default_factory=dict)  # order id -> remaining
    groups_cancelled: dict[str, TsMs] = field(default_factory=dict)  # order group id -> trigger
    renewed: dict[str, tuple[TsMs, TsMs]] = field(default_factory=dict)  # order id -> expires_ms

    def record_placed(self, order: RestingOrder, written_ms: TsMs) -> None:
        self.placed[order.client_order_id] = (order, written_ms)

    def record_cancelled(self, order_id: str, written_ms: TsMs) -> None:
        self.cancelled[order_id] = written_ms
        self.decreased.pop(order_id, None)

    def record_group_cancelled(self, group_id: str, written_ms: TsMs) -> None:
        self.groups_cancelled[group_id] = written_ms

    def record_decreased(self, order_id: str, remaining: int, written_ms: TsMs) -> None:
        self.decreased[order_id] = (remaining, written_ms)

    def record_renewed(self, order_id: str, expires_ms: TsMs, written_ms: TsMs) -> None:
        self.renewed[order_id] = (expires_ms, written_ms)

    def expire(self, as_of_ms: TsMs, listed_ids: frozenset[str] = frozenset()) -> None:
        """Forget writes the exchange's read endpoints already reflect (a cancelled order only
        once the listing no longer shows it)."""
        self.placed = {k: v for k, v in self.placed.items() if v[1] > as_of_ms}
        self.cancelled = {k: ts for k, ts in self.cancelled.items()
                          if ts > as_of_ms or k in listed_ids}
        self.decreased = {k: v for k, v in self.decreased.items() if v[1] > as_of_ms}
        self.groups_cancelled = {k: ts for k, ts in self.groups_cancelled.items()
                                 if ts > as_of_ms}
        self.renewed = {k: v for k, v in self.renewed.items() if v[1] > as_of_ms}

    def apply(self, listed: Sequence[RestingOrder], as_of_ms: TsMs) -> list[RestingOrder]:
        """The resting set as it really is now: the listing (as of ``as_of_ms``) plus our writes."""
        listed_ids = frozenset(o.order_id for o in listed)
        self.expire(as_of_ms, listed_ids)
        listed_clients = {o.client_order_id for o in listed if o.client_order_id}
        view = [self._corrected(o) for o in listed
                if o.order_id not in self.cancelled
                and o.order_group_id not in self.groups_cancelled]
        view = [o for o in view if o.remaining > 0]
        for order, _ in self.placed.values():
            if order.order_id in listed_ids or order.client_order_id in listed_clients:
                continue
            if order.order_id not in self.cancelled:
                view.append(self._corrected(order))
        return view

    def _corrected(self, order: RestingOrder) -> RestingOrder:
        renewal = self.renewed.get(order.order_id)
        if renewal is not None and renewal[0] > order.expires_ms:
            order = replace(order, expires_ms=renewal[0])
        entry = self.decreased.get(order.order_id)
        if entry is None or entry[0] >= order.remaining:
            return order
        return replace(order, remaining=entry[0])
