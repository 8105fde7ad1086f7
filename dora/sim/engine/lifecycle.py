"""Market lifecycle (pause, close, settle), scheduled events, and the outside flow's hooks."""

from __future__ import annotations

import heapq

from dora.core.models import MarketStatus, OrderStatus, PriceRange, Side, TsMs
from dora.core.units import Price
from dora.sim.engine.core import EVENT_CLOSE, EVENT_EXPIRE, EVENT_FLOW, EVENT_OPEN, Event
from dora.sim.engine.flow import FlowMarket
from dora.sim.engine.ledger import settlement_payout
from dora.sim.engine.markets import SETTLEMENT_RESULTS, MarketState
from dora.sim.engine.orderops import OrderOpsMixin
from dora.sim.engine.orders import LiveOrder
from dora.sim.engine.records import CreateOrder, EngineError, SimSettlement

OPEN_STATUSES = (MarketStatus.INITIALIZED, MarketStatus.ACTIVE, MarketStatus.INACTIVE)


def _expired(order: LiveOrder, due: TsMs) -> bool:
    """An expiry event still current: the order's expiry was not moved past it (by an amend)."""
    return order.expiration_s is not None and order.expiration_s * 1000 <= due


class LifecycleMixin(OrderOpsMixin):
    flow_markets: dict[str, FlowMarket]
    last_ts: TsMs

    # lifecycle ---------------------------------------------------------------------------
    def pause_now(self, market: MarketState, now_ms: TsMs) -> None:
        if market.status is MarketStatus.ACTIVE:
            market.set_status(MarketStatus.INACTIVE, now_ms)
        self.cancel_on_pause([market], now_ms)

    def cancel_on_pause(self, markets: list[MarketState], now_ms: TsMs) -> None:
        for market in markets:
            for order in market.book.orders():
                if order.cancel_order_on_pause:
                    self.cancel(order, now_ms)

    def close_now(self, market: MarketState, now_ms: TsMs) -> None:
        if market.status in OPEN_STATUSES:
            market.set_status(MarketStatus.CLOSED, now_ms)
        for order in market.book.orders():
            self.cancel(order, now_ms)

    def settle_now(self, market: MarketState, result: str, now_ms: TsMs) -> None:
        if result not in SETTLEMENT_RESULTS:
            raise EngineError(400, "invalid_parameters", f"unknown result {result!r}")
        if market.status is MarketStatus.FINALIZED:
            raise EngineError(409, "market_settled", f"market {market.ticker} is settled")
        self.close_now(market, now_ms)
        for account in self.accounts.values():
            pos = account.positions.pop(market.ticker, None)
            if pos is None:
                continue
            payout = settlement_payout(pos, result)
            account.cash += payout
            account.settlements.append(SimSettlement(
                ticker=market.ticker, event_ticker=market.event_ticker, result=result,
                yes_count=max(pos.position, 0), no_count=max(-pos.position, 0),
                yes_cost=pos.exposure if pos.position > 0 else 0,
                no_cost=pos.exposure if pos.position < 0 else 0,
                revenue=payout, settled_ms=now_ms,
            ))
            account.refresh_held(market.ticker)
            self.touch_position(account.user_id, market.ticker)
        market.result = result
        market.settled_ms = now_ms
        market.set_status(MarketStatus.FINALIZED, now_ms)
        self.counts["settlements"] += 1

    # scheduled events ----------------------------------------------------------------------
    def run_due_events(self, now_ms: TsMs) -> None:
        while self.events and self.events[0][0] <= now_ms:
            event = heapq.heappop(self.events)
            at = max(event[0], self.last_ts)
            self.last_ts = at
            self._handle(event, at)
            self.counts["events_processed"] += 1
            self.flush(at)

    def _handle(self, event: Event, now_ms: TsMs) -> None:
        due, kind, _, sub, key = event
        if kind == EVENT_EXPIRE:
            order = self.order_by_id.get(key)
            if order is not None and order.status is OrderStatus.RESTING and _expired(order, due):
                self.cancel(order, now_ms)
                self.counts["expirations"] += 1
            return
        market = self.market_by_ticker[key]
        if kind == EVENT_OPEN:
            if market.status is MarketStatus.INITIALIZED and market.open_ms <= now_ms:
                market.set_status(MarketStatus.ACTIVE, now_ms)
        elif kind == EVENT_CLOSE:
            if market.close_ms <= now_ms and market.status in OPEN_STATUSES:
                self.close_now(market, now_ms)
        elif kind == EVENT_FLOW:
            flow = self.flow_markets[key]
            if market.status not in OPEN_STATUSES:
                flow.next_ms[sub] = None  # a closed market's flow stops for good
            elif flow.enabled and flow.next_ms[sub] == due:
                self.counts["flow_events"] += 1
                nxt = flow.run(self, sub, now_ms)
                if nxt is not None:
                    self.schedule((nxt, EVENT_FLOW, market.index, sub, key))

    def schedule_market(self, market: MarketState, now_ms: TsMs) -> None:
        if market.status is MarketStatus.INITIALIZED:
            self.schedule((market.open_ms, EVENT_OPEN, market.index, 0, market.ticker))
        self.schedule((market.close_ms, EVENT_CLOSE, market.index, 0, market.ticker))
        self.arm_flow(self.flow_markets[market.ticker], now_ms)

    def arm_flow(self, flow: FlowMarket, now_ms: TsMs) -> None:
        for due, sub in flow.arm(now_ms):
            self.schedule((due, EVENT_FLOW, flow.index, sub, flow.ticker))

    # FlowVenue -----------------------------------------------------------------------------
    def flow_can_trade(self, ticker: str) -> bool:
        market = self.market_by_ticker[ticker]
        return self.trading_active_flag and market.status is MarketStatus.ACTIVE

    def flow_ranges(self, ticker: str) -> tuple[PriceRange, ...]:
        return self.market_by_ticker[ticker].ranges

    def flow_quote(self, ticker: str) -> tuple[Price | None, Price | None]:
        book = self.market_by_ticker[ticker].book
        return book.best_price(Side.BID), book.best_price(Side.ASK)

    def flow_resting(self, user_id: str, ticker: str) -> list[tuple[str, Side, Price]]:
        resting = self.accounts[user_id].resting.get(ticker, {})
        return [(o.order_id, o.side, o.price) for o in resting.values()]

    def flow_cancel(self, user_id: str, order_id: str, now_ms: TsMs) -> None:
        self.cancel(self.order_by_id[order_id], now_ms)

    def flow_submit(self, user_id: str, req: CreateOrder, now_ms: TsMs) -> None:
        try:
            self.submit(user_id, req, now_ms)
        except EngineError:
            return  # the flow simply does not trade when the venue refuses
        self.counts["flow_orders"] += 1
