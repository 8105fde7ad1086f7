"""The local Kalshi exchange engine: a pure, deterministic state machine.

Not thread-safe: the HTTP layer holds one lock around every call. Time comes only from the
injected clock; every public call first brings the engine up to ``clock.now_ms()`` (outside flow,
expiries, close times), so the same seed and the same sequence of clock readings and calls give
the same run, ids included.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from dora.core.models import MarketStatus, OrderStatus, Side, TsMs
from dora.core.units import ONE_DOLLAR, Count, Micros, Price
from dora.runtime.clock import Clock
from dora.sim.engine.core import EVENT_CLOSE, HISTORY_MS, TAPE_RETENTION_MS
from dora.sim.engine.flow import FLOW_CASH, FLOW_MAKER, FLOW_TAKER, FlowMarket
from dora.sim.engine.lifecycle import OPEN_STATUSES, LifecycleMixin
from dora.sim.engine.markets import STATUS_FILTERS, MarketState
from dora.sim.engine.reads import ReadsMixin
from dora.sim.engine.records import (
    CreateOrder,
    EngineError,
    SimBalance,
    SimFill,
    SimGroup,
    SimMarket,
    SimOrder,
    SimPosition,
    SimSettlement,
    SimTrade,
)

TRIM_EVERY_MS = 10_000


class Engine(LifecycleMixin, ReadsMixin):
    def __init__(self, clock: Clock, seed: int = 0, *, history_ms: int = HISTORY_MS,
                 tape_retention_ms: int = TAPE_RETENTION_MS) -> None:
        super().__init__(clock, seed, history_ms=history_ms, tape_retention_ms=tape_retention_ms)
        self.flow_markets: dict[str, FlowMarket] = {}
        self.last_ts = clock.now_ms()
        self._last_trim = self.last_ts
        self._flow_enabled = True
        self._flow_rates: tuple[Fraction | None, Fraction | None] = (None, None)
        for user_id in (FLOW_MAKER, FLOW_TAKER):
            # Nobody reads the flow's order history, so its finished orders are not kept.
            self.account(user_id, keeps_history=False).cash = FLOW_CASH
            self.flush(self.last_ts)

    def _now(self) -> TsMs:
        """Advance to the clock and return the (monotonic) engine time."""
        self.advance()
        return self.last_ts

    # markets and control -------------------------------------------------------------------
    def add_market(self, ticker: str, *, close_ms: TsMs, event_ticker: str = "",
                   price_level_structure: str = "linear_cent", fractional: bool = False,
                   maker_fees: bool = False, fair_value: Price = 5000,
                   status: MarketStatus = MarketStatus.ACTIVE,
                   open_ms: TsMs | None = None) -> SimMarket:
        now = self._now()
        if ticker in self.market_by_ticker:
            raise EngineError(409, "market_exists", f"market {ticker} already exists")
        _check_fair(fair_value)
        market = MarketState(
            ticker, len(self.market_by_ticker), event_ticker=event_ticker,
            open_ms=now if open_ms is None else open_ms, close_ms=close_ms,
            structure=price_level_structure, fractional=fractional, maker_fees=maker_fees,
            status=status, now_ms=now)
        self.market_by_ticker[ticker] = market
        flow = FlowMarket(self.seed, ticker, market.index, fair_value)
        flow.enabled = self._flow_enabled
        _apply_rates(flow, *self._flow_rates)
        self.flow_markets[ticker] = flow
        self.schedule_market(market, now)
        self.run_due_events(now)
        return market.snapshot()

    def market(self, ticker: str) -> SimMarket:
        self._now()
        return self.market_state(ticker).snapshot()

    def markets(self, tickers: Sequence[str] | None = None,
                     status: str | None = None) -> list[SimMarket]:
        self._now()
        if status is not None and status not in STATUS_FILTERS:
            raise EngineError(400, "invalid_parameters", f"unknown status filter {status!r}")
        wanted = STATUS_FILTERS[status] if status is not None else None
        chosen = (self.market_by_ticker.values() if tickers is None
                  else [self.market_by_ticker[t] for t in tickers if t in self.market_by_ticker])
        return [m.snapshot() for m in chosen if wanted is None or m.status in wanted]

    def book(self, ticker: str) -> tuple[list[tuple[Price, Count]], list[tuple[Price, Count]]]:
        self._now()
        book = self.market_state(ticker).book
        return book.depth(Side.BID), book.depth(Side.ASK)

    def trades(self, ticker: str | None = None, min_ts_ms: TsMs | None = None,
               max_ts_ms: TsMs | None = None) -> list[SimTrade]:
        self._now()
        source = self.tape if ticker is None else self.market_state(ticker).trades
        result: list[SimTrade] = []
        for trade in reversed(source):
            if min_ts_ms is not None and trade.ts_ms < min_ts_ms:
                break
            if max_ts_ms is None or trade.ts_ms <= max_ts_ms:
                result.append(trade)
        return result

    def pause_market(self, ticker: str) -> None:
        now = self._now()
        self.pause_now(self.market_state(ticker), now)
        self.flush(now)

    def resume_market(self, ticker: str) -> None:
        now = self._now()
        market = self.market_state(ticker)
        if market.status is MarketStatus.INACTIVE:
            market.set_status(MarketStatus.ACTIVE, now)

    def close_market(self, ticker: str) -> None:
        now = self._now()
        self.close_now(self.market_state(ticker), now)
        self.flush(now)

    def set_close_time(self, ticker: str, close_ms: TsMs) -> None:
        """Move an open market's close time; at or before now it closes at once."""
        now = self._now()
        market = self.market_state(ticker)
        if market.status not in OPEN_STATUSES:
            raise EngineError(409, "market_closed", f"market {ticker} is {market.status}")
        market.close_ms = close_ms
        market.updated_ms = now
        if close_ms <= now:
            self.close_now(market, now)
            self.flush(now)
            return
        self.schedule((close_ms, EVENT_CLOSE, market.index, 0, ticker))

    def settle_market(self, ticker: str, result: str) -> None:
        now = self._now()
        try:
            self.settle_now(self.market_state(ticker), result, now)
        finally:
            self.flush(now)

    def set_fair_value(self, ticker: str, price: Price) -> None:
        self._now()
        self.market_state(ticker)
        _check_fair(price)
        self.flow_markets[ticker].fair = price

    def seed_book(self, ticker: str) -> None:
        """Rest the outside makers' ladder around the fair value once, even with the flow off
        (a static two-sided book for runs that want liquidity but no arrivals)."""
        now = self._now()
        self.market_state(ticker)
        self.flow_markets[ticker].refresh_ladder(self, now)
        self.flush(now)

    def fair_value(self, ticker: str) -> Price:
        self.market_state(ticker)
        return self.flow_markets[ticker].fair

    def set_trading_active(self, active: bool) -> None:
        now = self._now()
        if self.trading_active_flag and not active:
            self.cancel_on_pause(list(self.market_by_ticker.values()), now)
        self.trading_active_flag = active
        self.flush(now)

    @property
    def trading_active(self) -> bool:
        return self.trading_active_flag

    def advance(self) -> None:
        """Process everything due up to the clock: flow arrivals, expiries, open/close times."""
        now = max(self.clock.now_ms(), self.last_ts)
        if self.events and self.events[0][0] <= now:
            self.run_due_events(now)
        self.last_ts = now
        if now - self._last_trim >= TRIM_EVERY_MS:
            self._last_trim = now
            self.trim_history(now)

    def configure_flow(self, ticker: str | None, *, enabled: bool = True,
                       taker_rate_per_s: Fraction | None = None,
                       maker_rate_per_s: Fraction | None = None) -> None:
        now = self._now()
        if ticker is None:
            self._flow_enabled = enabled
            self._flow_rates = (
                self._flow_rates[0] if taker_rate_per_s is None else taker_rate_per_s,
                self._flow_rates[1] if maker_rate_per_s is None else maker_rate_per_s)
            chosen = list(self.flow_markets.values())
        else:
            self.market_state(ticker)
            chosen = [self.flow_markets[ticker]]
        for flow in chosen:
            flow.enabled = enabled
            _apply_rates(flow, taker_rate_per_s, maker_rate_per_s)
            self.arm_flow(flow, now)

    # accounts ----------------------------------------------------------------------------
    def open_account(self, user_id: str, cash: Micros) -> None:
        """Open an account with ``cash``; for an existing account, deposit ``cash`` more."""
        now = self._now()
        if cash < 0:
            raise EngineError(400, "invalid_parameters", "cash must not be negative")
        self.account(user_id).cash += cash
        self.touch_account(user_id)
        self.flush(now)

    # orders --------------------------------------------------------------------------------
    def create_order(self, user_id: str, req: CreateOrder) -> SimOrder:
        now = self._now()
        try:
            return self.submit(user_id, req, now).snapshot()
        finally:
            self.flush(now)

    def cancel_order(self, user_id: str, order_id: str) -> tuple[SimOrder, Count]:
        now = self._now()
        order = self.resting_order(user_id, order_id)
        reduced_by = self.cancel(order, now)
        self.flush(now)
        return order.snapshot(), reduced_by

    def decrease_order(self, user_id: str, order_id: str, *, reduce_by: Count | None = None,
                       reduce_to: Count | None = None) -> SimOrder:
        now = self._now()
        order = self.resting_order(user_id, order_id)
        self.decrease_to(order, self.decrease_amount(order, reduce_by, reduce_to), now)
        self.flush(now)
        return order.snapshot()

    def amend_order(self, user_id: str, order_id: str, *, ticker: str, side: Side, price: Price,
                    count: Count, updated_client_order_id: str = "",
                    expiration_s: int | None = None) -> SimOrder:
        now = self._now()
        order = self.resting_order(user_id, order_id)
        try:
            self.amend(order, ticker=ticker, side=side, price=price, count=count,
                       updated_client_order_id=updated_client_order_id,
                       expiration_s=expiration_s, now_ms=now)
        finally:
            self.flush(now)
        return order.snapshot()

    def cancel_all(self, user_id: str) -> int:
        now = self._now()
        canceled = self.cancel_where(self.user_resting(user_id), now)
        self.flush(now)
        return canceled

    # user-data reads -----------------------------------------------------------------------
    def orders(self, user_id: str, *, as_of_ms: TsMs | None = None, ticker: str | None = None,
               status: OrderStatus | None = None, min_ts_ms: TsMs | None = None,
               max_ts_ms: TsMs | None = None) -> list[SimOrder]:
        self._now()
        return self.read_orders(user_id, as_of_ms, ticker, status, min_ts_ms, max_ts_ms)

    def order(self, user_id: str, order_id: str, *, as_of_ms: TsMs | None = None) -> SimOrder:
        self._now()
        snap = self.read_order(user_id, order_id, as_of_ms)
        if snap is None:
            raise EngineError(404, "not_found", f"order {order_id} not found")
        return snap

    def fills(self, user_id: str, *, as_of_ms: TsMs | None = None, ticker: str | None = None,
              order_id: str | None = None, min_ts_ms: TsMs | None = None,
              max_ts_ms: TsMs | None = None) -> list[SimFill]:
        self._now()
        return self.read_fills(user_id, as_of_ms, ticker, order_id, min_ts_ms, max_ts_ms)

    def positions(self, user_id: str, *, as_of_ms: TsMs | None = None,
                  ticker: str | None = None) -> list[SimPosition]:
        self._now()
        return self.read_positions(user_id, as_of_ms, ticker)

    def balance(self, user_id: str, *, as_of_ms: TsMs | None = None) -> SimBalance:
        self._now()
        return self.read_balance(user_id, as_of_ms)

    def settlements(self, user_id: str) -> list[SimSettlement]:
        self._now()
        account = self.accounts.get(user_id)
        return list(reversed(account.settlements)) if account else []

    def queue_positions(self, user_id: str,
                        tickers: Sequence[str]) -> list[tuple[str, str, Count]]:
        """(order_id, ticker, contracts ahead) for the user's resting orders; no tickers = all."""
        self._now()
        result: list[tuple[str, str, Count]] = []
        for order in self.user_resting(user_id):
            if not tickers or order.ticker in tickers:
                book = self.market_by_ticker[order.ticker].book
                result.append((order.order_id, order.ticker, book.ahead_of(order)))
        return result

    # order groups --------------------------------------------------------------------------
    def create_group(self, user_id: str, contracts_limit: Count) -> SimGroup:
        self._now()
        return self.new_group(user_id, contracts_limit).snapshot()

    def group(self, user_id: str, group_id: str) -> SimGroup:
        self._now()
        return self.user_group(user_id, group_id).snapshot()

    def groups(self, user_id: str) -> list[SimGroup]:
        self._now()
        return [g.snapshot() for g in self.order_groups.values() if g.user_id == user_id]

    def reset_group(self, user_id: str, group_id: str) -> None:
        self._now()
        self.user_group(user_id, group_id).reset()

    def trigger_group(self, user_id: str, group_id: str) -> None:
        now = self._now()
        self.trigger_group_now(self.user_group(user_id, group_id), now)
        self.flush(now)

    def update_group_limit(self, user_id: str, group_id: str, contracts_limit: Count) -> None:
        now = self._now()
        self.set_group_limit(self.user_group(user_id, group_id), contracts_limit, now)
        self.flush(now)

    def delete_group(self, user_id: str, group_id: str) -> None:
        now = self._now()
        self.remove_group(self.user_group(user_id, group_id), now)
        self.flush(now)

    def counters(self) -> dict[str, int]:
        return {**self.counts, "resting_orders": sum(
            len(orders) for a in self.accounts.values() for orders in a.resting.values()),
            "fees_collected": self.fees_collected}


def _check_fair(price: Price) -> None:
    if not 0 < price < ONE_DOLLAR:
        raise EngineError(400, "invalid_parameters", f"fair value {price} outside (0, 1)")


def _apply_rates(flow: FlowMarket, taker: Fraction | None, maker: Fraction | None) -> None:
    if taker is not None:
        flow.taker_rate = taker
    if maker is not None:
        flow.maker_rate = maker
