"""Operations on existing orders (cancel, decrease, amend) and on order groups."""

from __future__ import annotations

from dora.core.fees import taker_fee_bound
from dora.core.models import Side, TimeInForce, TsMs
from dora.core.units import Count, Price
from dora.sim.engine.core import EVENT_EXPIRE, ID_GROUP
from dora.sim.engine.groups import OrderGroup
from dora.sim.engine.markets import MarketState
from dora.sim.engine.matching import CLIENT_ORDER_ID, MatchingMixin
from dora.sim.engine.orders import LiveOrder
from dora.sim.engine.records import EngineError


class OrderOpsMixin(MatchingMixin):
    def resting_order(self, user_id: str, order_id: str) -> LiveOrder:
        """The user's order if it is still resting; 404 when unknown or already gone."""
        order = self.user_order(user_id, order_id)
        if not order.resting:
            raise EngineError(404, "not_found", f"order {order_id} is no longer resting")
        return order

    def decrease_to(self, order: LiveOrder, new_remaining: Count, now_ms: TsMs) -> None:
        """Shrink a resting order in place (it keeps its queue priority); 0 cancels it."""
        if new_remaining == 0:
            self.cancel(order, now_ms)
            return
        self.market_by_ticker[order.ticker].book.shrink(order, order.remaining - new_remaining)
        order.remaining = new_remaining
        order.updated_ms = now_ms
        self.accounts[order.user_id].refresh_held(order.ticker)
        self.touch_order(order)
        self.touch_account(order.user_id)

    def decrease_amount(self, order: LiveOrder, reduce_by: Count | None,
                        reduce_to: Count | None) -> Count:
        """The new remaining size for a decrease request (exactly one of the two amounts)."""
        if (reduce_by is None) == (reduce_to is None):
            raise EngineError(400, "invalid_parameters", "give exactly one of reduce_by/reduce_to")
        market = self.market_by_ticker[order.ticker]
        amount = reduce_by if reduce_by is not None else reduce_to
        if amount is None or amount < 0 or (reduce_by is not None and amount == 0):
            raise EngineError(400, "invalid_parameters", "decrease amount must be positive")
        if amount % (1 if market.fractional else 100):
            raise EngineError(400, "invalid_parameters", "decrease amount is not a valid size")
        if reduce_by is not None:
            return max(order.remaining - amount, 0)
        if amount > order.remaining:
            raise EngineError(400, "invalid_parameters", "reduce_to exceeds the remaining count")
        return amount

    def amend(self, order: LiveOrder, *, ticker: str, side: Side, price: Price, count: Count,
              updated_client_order_id: str, now_ms: TsMs, expiration_s: int | None = None) -> None:
        """Change price, total size, client id and/or expiry. The same price at no larger a
        size (an expiry-only change included) keeps the order's queue place; otherwise it goes
        to the back of the queue at its (new) price, crossing first if it can."""
        if ticker != order.ticker or side is not order.side:
            raise EngineError(400, "invalid_parameters", "amend cannot change ticker or side")
        market = self.market_by_ticker[ticker]
        self._check_amend(market, order, price, count, updated_client_order_id)
        _check_new_expiry(order, expiration_s, now_ms)
        new_remaining = count - order.filled
        if price == order.price and new_remaining <= order.remaining:
            self.decrease_to(order, new_remaining, now_ms)
            self._rename(order, updated_client_order_id)
            order.initial = count
            self._move_expiry(order, expiration_s)
            return
        self.unrest(order)
        self._rename(order, updated_client_order_id)
        order.price, order.remaining, order.initial = price, new_remaining, count
        if expiration_s is not None:
            order.expiration_s = expiration_s  # rest() schedules it
        order.updated_ms = now_ms
        self.touch_order(order)
        self.match_and_place(market, order, now_ms)

    def _move_expiry(self, order: LiveOrder, expiration_s: int | None) -> None:
        """A resting order's new expiry; the event already queued for the old one finds it
        moved and does nothing."""
        if expiration_s is None or expiration_s == order.expiration_s:
            return
        order.expiration_s = expiration_s
        self.touch_order(order)
        self.schedule((expiration_s * 1000, EVENT_EXPIRE, order.seq, 0, order.order_id))

    def _check_amend(self, market: MarketState, order: LiveOrder, price: Price, count: Count,
                     new_client_id: str) -> None:
        if not self.trading_active_flag:
            raise EngineError(409, "trading_is_paused", "exchange trading is paused")
        market.check_tradable()
        market.check_price(price)
        market.check_count(count)
        if count <= order.filled:
            raise EngineError(400, "invalid_parameters", "amended count must exceed the filled")
        account = self.accounts[order.user_id]
        if new_client_id and new_client_id != order.client_order_id:
            if not CLIENT_ORDER_ID.fullmatch(new_client_id):
                raise EngineError(400, "invalid_parameters", "invalid client_order_id")
            if new_client_id in account.client_ids:
                raise EngineError(409, "order_already_exists", "client_order_id is in use")
        extra = account.extra_collateral(
            order.ticker, (order.side, price, count - order.filled), replacing=order)
        in_place = price == order.price and count - order.filled <= order.remaining
        if not in_place:
            extra += taker_fee_bound(order.side, price, count - order.filled)
        if extra > account.available:
            raise EngineError(400, "insufficient_balance", "insufficient balance for this amend")

    def _rename(self, order: LiveOrder, new_client_id: str) -> None:
        if not new_client_id or new_client_id == order.client_order_id:
            return
        client_ids = self.accounts[order.user_id].client_ids
        if self.is_in_book(order) and client_ids.get(order.client_order_id) == order.order_id:
            del client_ids[order.client_order_id]
            client_ids[new_client_id] = order.order_id
        order.client_order_id = new_client_id

    def cancel_where(self, orders: list[LiveOrder], now_ms: TsMs) -> int:
        count = 0
        for order in orders:
            if order.resting:
                self.cancel(order, now_ms)
                count += 1
        return count

    def user_resting(self, user_id: str) -> list[LiveOrder]:
        account = self.accounts.get(user_id)
        if account is None:
            return []
        return [o for by_market in account.resting.values() for o in by_market.values()]

    # order groups ----------------------------------------------------------------------
    def new_group(self, user_id: str, contracts_limit: Count) -> OrderGroup:
        _check_limit(contracts_limit)
        group = OrderGroup(self.new_id(ID_GROUP), user_id, contracts_limit)
        self.order_groups[group.group_id] = group
        return group

    def set_group_limit(self, group: OrderGroup, contracts_limit: Count, now_ms: TsMs) -> None:
        _check_limit(contracts_limit)
        group.contracts_limit = contracts_limit
        if not group.triggered and group.matched_in_window(now_ms) >= contracts_limit:
            self.trigger_group_now(group, now_ms)

    def remove_group(self, group: OrderGroup, now_ms: TsMs) -> None:
        self.cancel_where([self.order_by_id[i] for i in group.order_ids], now_ms)
        del self.order_groups[group.group_id]


def _check_new_expiry(order: LiveOrder, expiration_s: int | None, now_ms: TsMs) -> None:
    if expiration_s is None:
        return
    if order.time_in_force is not TimeInForce.GTC:
        raise EngineError(400, "invalid_parameters", "expiration_time requires GTC")
    if expiration_s * 1000 <= now_ms:
        raise EngineError(400, "invalid_parameters", "expiration_time is in the past")


def _check_limit(contracts_limit: Count) -> None:
    if contracts_limit <= 0:
        raise EngineError(400, "invalid_parameters", "contracts_limit must be positive")
