"""The last gate before the exchange: no order write without the lease, every order in the
epoch's group (docs/architecture.md#lease).

:class:`FencedOrders` stands between the executor and the client. Creates (and amends and
expiry renewals, which keep an order alive) go out only while the lease has at least half its
duration left (creates and amends also only while the epoch's group is open, each stamped with
the group); cancels and decreases only while the lease
is held and not over. What the gate stops comes back as a refused result, exactly as the
exchange's own refusals do, so the executor's bookkeeping needs nothing new.

Before every order write, and before each later wave of a phase whose batches go out in several
waves (the tokens held do not pay for them all, and such a phase may last minutes), the lease is
renewed when due (``keep_alive``) and the gate asked again; a stop requested during such a phase
(``stopping``) sends none of its later create waves, and neither does a plan that has grown older
than the cycle's bound (``plan_stale``: its prices come from reads that old; the next cycle plans
those creates again on fresh reads).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from dora.bot.groups import GroupKeeper
from dora.bot.lease import LeaseKeeper
from dora.core.fencing import (
    GROUP_CLOSED,
    NOT_HELD,
    PLAN_STALE,
    STOPPING,
    VISIBLE,
    Whose,
    not_sent,
    whose,
)
from dora.core.market_config import MarketConfig
from dora.core.models import (
    CancelResult,
    CancelStatus,
    DecreaseResult,
    OrderRequest,
    PlaceResult,
    PlaceStatus,
    RenewResult,
    RenewStatus,
    RestingOrder,
)
from dora.core.shards import ShardId, ShardPlan
from dora.core.units import Count, Price
from dora.exchange.client import KalshiClient
from dora.exchange.orders import Sent

R = TypeVar("R")


class ShardView:
    """What of the account this process looks at: its shard's markets, and there every order
    except a successor's or another shard's (:func:`dora.core.fencing.whose`). A standby looks
    at everything (it touches nothing)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._plan: ShardPlan | None = None
        self._epoch = 0

    def hold(self, shard: ShardId, epoch: int) -> None:
        self._plan, self._epoch = ShardPlan(shard), epoch

    def drop(self) -> None:
        self._plan, self._epoch = None, 0

    def update(self, configs: Mapping[str, object]) -> None:
        """The markets' explicit ``shard`` fields (from valid configs)."""
        if self._plan is not None:
            self._plan.update({t: c.shard for t, c in configs.items()
                               if isinstance(c, MarketConfig)})

    def owns(self, ticker: str) -> bool:
        return self._plan is None or self._plan.owns(ticker)

    def whose(self, order: RestingOrder) -> Whose:
        if self._plan is None:
            return Whose.OWN if order.client_order_id.startswith(self._prefix) else Whose.MANUAL
        return whose(order, self._prefix, self._plan.shard.index, self._epoch)

    def split(self, orders: Sequence[RestingOrder]) -> tuple[list[RestingOrder], frozenset[str]]:
        """The orders this process acts on, and its markets where another shard's rest."""
        kept: list[RestingOrder] = []
        blocked: set[str] = set()
        for order in orders:
            if not self.owns(order.ticker):
                continue
            kind = self.whose(order)
            if kind in VISIBLE:
                kept.append(order)
            elif kind is Whose.OTHER_SHARD:
                blocked.add(order.ticker)
        return kept, frozenset(blocked)


class FencedOrders:
    def __init__(
        self, client: KalshiClient, lease: LeaseKeeper, groups: GroupKeeper, *,
        keep_alive: Callable[[], object] = lambda: None,
        stopping: Callable[[], bool] = lambda: False,
        plan_stale: Callable[[], bool] = lambda: False,
    ) -> None:
        self._client = client
        self._lease = lease
        self._groups = groups
        self._keep_alive = keep_alive
        self._stopping = stopping
        self._plan_stale = plan_stale

    def _place_refusal(self) -> str:
        """Why no create or amend may go out now ("" when it may); the lease renewed first when
        due, as before every order write."""
        if not self._may_place():
            return NOT_HELD
        return "" if self._groups.may_place() else GROUP_CLOSED

    def _may_place(self) -> bool:
        self._keep_alive()
        return self._lease.may_place()

    def _may_write(self) -> bool:
        self._keep_alive()
        return self._lease.may_write()

    def place_order(self, request: OrderRequest) -> PlaceResult:
        refusal = self._place_refusal()
        if refusal:
            return _refused(request, refusal)
        return self._placed([self._client.place_order(self._groups.stamp(request))])[0]

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        refusal = self._place_refusal()
        if refusal:
            return [_refused(r, refusal) for r in requests]
        return self._placed(self._client.place_orders([self._groups.stamp(r) for r in requests]))

    def place_batches(self, requests: Sequence[OrderRequest]) -> list[Sent[PlaceResult]]:
        """As :meth:`place_orders`, per batch request (sent together, in waves when the tokens
        held do not pay for them all)."""
        refusal = self._place_refusal() or self._stale()
        if refusal:
            return self._unsent([_refused(r, refusal) for r in requests])
        return self._client.place_batches([self._groups.stamp(r) for r in requests],
                                          between_waves=self._before_place_wave,
                                          after_wave=self._after_place_wave)

    def _after_place_wave(self, wave: list[Sent[PlaceResult]]) -> None:
        """The group learns of a wave's answers before the next wave asks it (a create refused
        because the group triggered closes it for the waves after)."""
        for request in wave:
            self._placed(request.results)

    def _before_place_wave(self) -> str:
        if self._stopping():
            return STOPPING
        return self._place_refusal() or self._stale()

    def _stale(self) -> str:
        """After the gate (which says whether this process may write at all): whether the plan
        is too old to place."""
        return PLAN_STALE if self._plan_stale() else ""

    def _before_cancel_wave(self) -> str:
        return "" if self._may_write() else NOT_HELD

    def _unsent(self, results: list[R]) -> list[Sent[R]]:
        now = self._client.clock.now_ms()
        return [Sent(results, now, now)] if results else []

    def _placed(self, results: list[PlaceResult]) -> list[PlaceResult]:
        self._groups.on_placed(results)
        return results

    def amend_order(self, order: RestingOrder, price: Price, total_count: Count) -> PlaceResult:
        refusal = self._place_refusal()
        if refusal:
            request = OrderRequest(order.ticker, order.side, price, total_count,
                                   order.client_order_id)
            return _refused(request, refusal)
        return self._client.amend_order(order, price, total_count)

    def renew_order(self, order: RestingOrder, expiration_s: int) -> RenewResult:
        """An expiry-only amend keeps an order alive: the lease must have half its time left."""
        if not self._may_place():
            return RenewResult(order.order_id, RenewStatus.NOT_SENT,
                               expires_ms=expiration_s * 1000, error_code=NOT_HELD,
                               error_message=not_sent(NOT_HELD))
        return self._client.renew_order(order, expiration_s)

    def spare_write_tokens(self) -> int:
        return self._client.spare_write_tokens()

    def cancel_order(self, order_id: str) -> CancelResult:
        if not self._may_write():
            return _not_cancelled(order_id)
        return self._client.cancel_order(order_id)

    def cancel_orders(self, order_ids: Sequence[str]) -> list[CancelResult]:
        if not self._may_write():
            return [_not_cancelled(i) for i in order_ids]
        return self._client.cancel_orders(order_ids)

    def cancel_batches(self, order_ids: Sequence[str]) -> list[Sent[CancelResult]]:
        if not self._may_write():
            return self._unsent([_not_cancelled(i) for i in order_ids])
        return self._client.cancel_batches(order_ids, between_waves=self._before_cancel_wave)

    def decrease_orders(
        self, decreases: Sequence[tuple[str, Count]]
    ) -> list[Sent[DecreaseResult]]:
        if not self._may_write():  # one request a decrease, as the client answers them
            now = self._client.clock.now_ms()
            return [Sent([_not_decreased(i)], now, now) for i, _ in decreases]
        return self._client.decrease_orders(decreases)

    def decrease_order(self, order_id: str, reduce_to: Count) -> DecreaseResult:
        if not self._may_write():
            return _not_decreased(order_id)
        return self._client.decrease_order(order_id, reduce_to)


def _refused(request: OrderRequest, code: str) -> PlaceResult:
    return PlaceResult(request, PlaceStatus.REJECTED, error_code=code,
                       error_message=not_sent(code))


def _not_cancelled(order_id: str) -> CancelResult:
    return CancelResult(order_id, CancelStatus.FAILED, error_code=NOT_HELD,
                        error_message=not_sent(NOT_HELD))


def _not_decreased(order_id: str) -> DecreaseResult:
    return DecreaseResult(order_id, CancelStatus.FAILED, error_code=NOT_HELD,
                          error_message=not_sent(NOT_HELD))
