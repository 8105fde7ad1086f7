"""Order entry and price-time matching (the taker side of every trade)."""

from __future__ import annotations

import re

from dora.core.fees import maker_fee, taker_fee, taker_fee_bound
from dora.core.models import OrderStatus, SelfTradePrevention, Side, TimeInForce, TsMs
from dora.core.units import Count, Price
from dora.sim.engine.core import ID_FILL, ID_ORDER, ID_TRADE, CoreState
from dora.sim.engine.ledger import Account, apply_trade, outcome_cost
from dora.sim.engine.markets import MarketState
from dora.sim.engine.orders import LiveOrder
from dora.sim.engine.records import CreateOrder, EngineError, SimFill, SimTrade

CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9_\-:+=/]{1,64}")

# docs/kalshi-notes.md#order-entry (an assumption): whether REST answers a crossing post_only order
# with an error or with a canceled order is unverified. The sim answers with the order, canceled,
# fill 0, remaining 0.
POST_ONLY_CROSS_RAISES = False


def crosses(taker_side: Side, limit: Price, resting_price: Price) -> bool:
    return resting_price <= limit if taker_side is Side.BID else resting_price >= limit


class MatchingMixin(CoreState):
    def submit(self, user_id: str, req: CreateOrder, now_ms: TsMs) -> LiveOrder:
        """Validate, match and (for GTC) rest a new order. Raises EngineError on refusal."""
        market = self.market_state(req.ticker)
        account = self.account(user_id)
        self._validate(market, account, req, now_ms)
        order = LiveOrder(self.new_id(ID_ORDER), self.next_order_seq(), user_id, req, now_ms)
        if req.reduce_only:
            order.remaining = order.initial = min(req.count, self._reducible(account, req))
        extra = account.extra_collateral(req.ticker, (order.side, order.price, order.remaining))
        if not req.post_only:
            extra += taker_fee_bound(order.side, order.price, order.remaining)
        if order.remaining and extra > account.available:
            self.counts["orders_rejected"] += 1
            raise EngineError(400, "insufficient_balance", "insufficient balance for this order")
        self.order_by_id[order.order_id] = order
        account.orders[order.order_id] = order
        self.counts["orders_created"] += 1
        self.touch_order(order)
        self._execute_new(market, order, now_ms)
        return order

    def _execute_new(self, market: MarketState, order: LiveOrder, now_ms: TsMs) -> None:
        if order.remaining == 0:  # reduce_only with nothing to reduce
            self.finish(order, OrderStatus.CANCELED, now_ms)
            return
        if order.post_only and self._would_cross(market, order):
            if POST_ONLY_CROSS_RAISES:
                raise EngineError(400, "post_only_cross", "post-only order would cross")
            self.finish(order, OrderStatus.CANCELED, now_ms)
            return
        if (order.time_in_force is TimeInForce.FOK
                and self._fillable(market, order) < order.remaining):
            self.finish(order, OrderStatus.CANCELED, now_ms)
            return
        self.match_and_place(market, order, now_ms)

    def match_and_place(self, market: MarketState, order: LiveOrder, now_ms: TsMs) -> None:
        """Match ``order`` as taker, then rest (GTC) or cancel what is left."""
        stopped = self._match(market, order, now_ms)
        if order.remaining == 0:
            self.finish(order, OrderStatus.EXECUTED, now_ms)
        elif stopped or order.time_in_force is not TimeInForce.GTC:
            self.finish(order, OrderStatus.CANCELED, now_ms)
        else:
            self.rest(order)

    def _validate(self, market: MarketState, account: Account, req: CreateOrder,
                  now_ms: TsMs) -> None:
        if not self.trading_active_flag:
            raise EngineError(409, "trading_is_paused", "exchange trading is paused")
        market.check_tradable()
        market.check_price(req.price)
        market.check_count(req.count)
        if req.reduce_only and req.time_in_force is not TimeInForce.IOC:
            raise EngineError(400, "invalid_parameters", "reduce_only requires immediate_or_cancel")
        if req.expiration_s is not None:
            if req.time_in_force is not TimeInForce.GTC:
                raise EngineError(400, "invalid_parameters", "expiration_time requires GTC")
            if req.expiration_s * 1000 <= now_ms:
                raise EngineError(400, "invalid_parameters", "expiration_time is in the past")
        if req.client_order_id:
            if not CLIENT_ORDER_ID.fullmatch(req.client_order_id):
                raise EngineError(400, "invalid_parameters", "invalid client_order_id")
            if req.client_order_id in account.client_ids:
                raise EngineError(409, "order_already_exists", "client_order_id is in use")
        if req.order_group_id:
            group = self.user_group(account.user_id, req.order_group_id)
            if group.triggered:
                raise EngineError(409, "order_group_triggered", "order group is triggered")

    def _reducible(self, account: Account, req: CreateOrder) -> Count:
        pos = account.positions.get(req.ticker)
        position = pos.position if pos else 0
        return max(-position, 0) if req.side is Side.BID else max(position, 0)

    def _would_cross(self, market: MarketState, order: LiveOrder) -> bool:
        best = market.book.best_price(order.side.opposite)
        return best is not None and crosses(order.side, order.price, best)

    def _fillable(self, market: MarketState, order: LiveOrder) -> Count:
        """Contracts ``order`` could take now, honouring its self-trade prevention."""
        total = 0
        for level in market.book.crossing_levels(order.side.opposite, order.price):
            for resting in level.orders.values():
                if resting.user_id == order.user_id:
                    if order.self_trade_prevention is SelfTradePrevention.TAKER_AT_CROSS:
                        return total
                    continue
                total += resting.remaining
                if total >= order.remaining:
                    return total
        return total

    def _match(self, market: MarketState, taker: LiveOrder, now_ms: TsMs) -> bool:
        """Trade ``taker`` against the book; True when matching stopped and the rest must cancel."""
        book = market.book
        while taker.remaining > 0:
            level = book.best_level(taker.side.opposite)
            if level is None:
                return False
            maker = level.head()
            if not crosses(taker.side, taker.price, maker.price):
                return False
            if maker.user_id == taker.user_id:
                if taker.self_trade_prevention is SelfTradePrevention.TAKER_AT_CROSS:
                    return True
                self.cancel(maker, now_ms)
                continue
            self._trade(market, taker, maker, min(taker.remaining, maker.remaining), now_ms)
            group = self.order_groups.get(taker.order_group_id)
            if group is not None and group.triggered:
                return True
        return False

    def _trade(self, market: MarketState, taker: LiveOrder, maker: LiveOrder, count: Count,
               now_ms: TsMs) -> None:
        price = maker.price
        trade_id = self.new_id(ID_TRADE)
        market.book.shrink(maker, count)
        self._book_fill(market, taker, trade_id, price, count, now_ms, is_taker=True)
        self._book_fill(market, maker, trade_id, price, count, now_ms, is_taker=False)
        trade = SimTrade(trade_id=trade_id, ticker=market.ticker, price=price, count=count,
                         taker_side=taker.side, ts_ms=now_ms)
        market.record_trade(trade)
        self.tape.append(trade)
        self.counts["trades"] += 1
        self.counts["matches"] += 1
        self.counts["contracts_matched"] += count
        if maker.remaining == 0:
            self.finish(maker, OrderStatus.EXECUTED, now_ms)
        for order in (taker, maker):
            self.accounts[order.user_id].refresh_held(market.ticker)
            self._count_group_match(order, count, now_ms)

    def _book_fill(self, market: MarketState, order: LiveOrder, trade_id: str, price: Price,
                   count: Count, now_ms: TsMs, *, is_taker: bool) -> None:
        account = self.accounts[order.user_id]
        pos = account.position(market.ticker)
        fee = (taker_fee(count, price) if is_taker
               else maker_fee(count, price, maker_fees=market.maker_fees))
        account.cash += apply_trade(pos, order.side, price, count, now_ms) - fee
        pos.fees_paid += fee
        self.fees_collected += fee
        cost = outcome_cost(order.side, price) * count
        if is_taker:
            order.taker_fill_cost += cost
            order.taker_fees += fee
        else:
            order.maker_fill_cost += cost
            order.maker_fees += fee
        order.filled += count
        order.remaining -= count
        order.updated_ms = now_ms
        account.fills.append(SimFill(
            fill_id=self.new_id(ID_FILL), trade_id=trade_id, order_id=order.order_id,
            user_id=order.user_id, ticker=market.ticker, side=order.side, price=price,
            count=count, is_taker=is_taker, fee=fee, ts_ms=now_ms,
        ))
        self.counts["fills"] += 1
        self.touch_order(order)
        self.touch_position(order.user_id, market.ticker)

    def _count_group_match(self, order: LiveOrder, count: Count, now_ms: TsMs) -> None:
        group = self.order_groups.get(order.order_group_id)
        if group is None or group.triggered:
            return
        if group.record_match(now_ms, count):
            self.trigger_group_now(group, now_ms)
