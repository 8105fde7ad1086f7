"""The engine's live (mutable) order and its snapshot history."""

from __future__ import annotations

from bisect import bisect_right

from dora.core.models import OrderStatus, SelfTradePrevention, Side, TimeInForce, TsMs
from dora.core.units import Count, Micros, Price
from dora.sim.engine.records import CreateOrder, SimOrder


class LiveOrder:
    """One order inside the engine. Only the engine mutates it; readers get ``SimOrder`` copies."""

    __slots__ = (
        "cancel_order_on_pause", "client_order_id", "created_ms", "expiration_s", "filled",
        "initial", "maker_fees", "maker_fill_cost", "order_group_id", "order_id", "post_only",
        "price", "reduce_only", "remaining", "self_trade_prevention", "seq", "side", "status",
        "taker_fees", "taker_fill_cost", "ticker", "time_in_force", "updated_ms", "user_id",
        "versions",
    )

    def __init__(
        self, order_id: str, seq: int, user_id: str, req: CreateOrder, now_ms: TsMs
    ) -> None:
        self.order_id = order_id
        self.seq = seq
        self.user_id = user_id
        self.client_order_id = req.client_order_id
        self.ticker = req.ticker
        self.side: Side = req.side
        self.price: Price = req.price
        self.initial: Count = req.count
        self.filled: Count = 0
        self.remaining: Count = req.count
        self.status = OrderStatus.RESTING
        self.time_in_force: TimeInForce = req.time_in_force
        self.self_trade_prevention: SelfTradePrevention = req.self_trade_prevention
        self.post_only = req.post_only
        self.reduce_only = req.reduce_only
        self.cancel_order_on_pause = req.cancel_order_on_pause
        self.expiration_s = req.expiration_s
        self.order_group_id = req.order_group_id
        self.created_ms = now_ms
        self.updated_ms = now_ms
        self.taker_fill_cost: Micros = 0
        self.maker_fill_cost: Micros = 0
        self.taker_fees: Micros = 0
        self.maker_fees: Micros = 0
        self.versions: list[SimOrder] = []

    @property
    def resting(self) -> bool:
        return self.status is OrderStatus.RESTING

    def snapshot(self) -> SimOrder:
        return SimOrder(
            order_id=self.order_id, user_id=self.user_id, client_order_id=self.client_order_id,
            ticker=self.ticker, side=self.side, price=self.price, initial=self.initial,
            filled=self.filled, remaining=self.remaining, status=self.status,
            time_in_force=self.time_in_force, self_trade_prevention=self.self_trade_prevention,
            post_only=self.post_only, reduce_only=self.reduce_only,
            cancel_order_on_pause=self.cancel_order_on_pause, expiration_s=self.expiration_s,
            order_group_id=self.order_group_id, created_ms=self.created_ms,
            updated_ms=self.updated_ms, taker_fill_cost=self.taker_fill_cost,
            maker_fill_cost=self.maker_fill_cost, taker_fees=self.taker_fees,
            maker_fees=self.maker_fees,
        )

    def record_version(self) -> None:
        """Append the current state to the history (same timestamp replaces the last one)."""
        snap = self.snapshot()
        if self.versions and self.versions[-1].updated_ms == snap.updated_ms:
            self.versions[-1] = snap
        else:
            self.versions.append(snap)

    def version_at(self, as_of_ms: TsMs | None) -> SimOrder | None:
        """The order as it was at ``as_of_ms``; None if it did not exist yet."""
        if as_of_ms is None:
            return self.versions[-1] if self.versions else self.snapshot()
        if as_of_ms < self.created_ms:
            return None
        index = bisect_right(self.versions, as_of_ms, key=lambda o: o.updated_ms)
        if index:
            return self.versions[index - 1]
        # Older than the retained history: the oldest state kept is the best answer left.
        return self.versions[0] if self.versions else None

    def trim_versions(self, horizon_ms: TsMs) -> None:
        index = bisect_right(self.versions, horizon_ms, key=lambda o: o.updated_ms) - 1
        if index > 0:
            del self.versions[:index]

    def finish(self, status: OrderStatus, now_ms: TsMs) -> None:
        """Leave the book: executed when nothing remains unfilled, otherwise canceled."""
        self.status = status
        self.remaining = 0
        self.updated_ms = now_ms
