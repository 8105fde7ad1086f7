"""User-data reads, now or "as of" a past moment (the read-lag knob)."""

from __future__ import annotations

from dora.core.models import OrderStatus, TsMs
from dora.sim.engine.core import CoreState
from dora.sim.engine.ledger import Account
from dora.sim.engine.orders import LiveOrder
from dora.sim.engine.records import SimBalance, SimFill, SimOrder, SimPosition


def _in_window(ts_ms: TsMs, min_ts_ms: TsMs | None, max_ts_ms: TsMs | None) -> bool:
    return (min_ts_ms is None or ts_ms >= min_ts_ms) and (max_ts_ms is None or ts_ms <= max_ts_ms)


class ReadsMixin(CoreState):
    def read_orders(self, user_id: str, as_of_ms: TsMs | None, ticker: str | None,
                    status: OrderStatus | None, min_ts_ms: TsMs | None,
                    max_ts_ms: TsMs | None) -> list[SimOrder]:
        account = self.accounts.get(user_id)
        if account is None:
            return []
        result: list[SimOrder] = []
        for order in self._order_candidates(account, as_of_ms, status):
            if ticker is not None and order.ticker != ticker:
                continue
            snap = order.version_at(as_of_ms)
            if snap is None or (status is not None and snap.status is not status):
                continue
            if _in_window(snap.created_ms, min_ts_ms, max_ts_ms):
                result.append(snap)
        return result

    def _order_candidates(self, account: Account, as_of_ms: TsMs | None,
                          status: OrderStatus | None) -> list[LiveOrder]:
        """Orders that may match, newest first; resting listings avoid scanning closed orders."""
        if status is not OrderStatus.RESTING:
            return list(reversed(account.orders.values()))
        candidates = [o for by_market in account.resting.values() for o in by_market.values()]
        if as_of_ms is not None:
            for finished_ms, order_id in reversed(account.finished):
                if finished_ms <= as_of_ms:
                    break
                order = account.orders.get(order_id)
                if order is not None and order.created_ms <= as_of_ms:
                    candidates.append(order)
        candidates.sort(key=lambda o: o.seq, reverse=True)
        return candidates

    def read_order(self, user_id: str, order_id: str, as_of_ms: TsMs | None) -> SimOrder | None:
        snap = self.user_order(user_id, order_id).version_at(as_of_ms)
        return snap

    def read_fills(self, user_id: str, as_of_ms: TsMs | None, ticker: str | None,
                   order_id: str | None, min_ts_ms: TsMs | None,
                   max_ts_ms: TsMs | None) -> list[SimFill]:
        account = self.accounts.get(user_id)
        if account is None:
            return []
        result: list[SimFill] = []
        for fill in reversed(account.fills):
            if as_of_ms is not None and fill.ts_ms > as_of_ms:
                continue
            if min_ts_ms is not None and fill.ts_ms < min_ts_ms:
                break
            if ((ticker is None or fill.ticker == ticker)
                    and (order_id is None or fill.order_id == order_id)
                    and _in_window(fill.ts_ms, None, max_ts_ms)):
                result.append(fill)
        return result

    def read_positions(self, user_id: str, as_of_ms: TsMs | None,
                       ticker: str | None) -> list[SimPosition]:
        account = self.accounts.get(user_id)
        if account is None:
            return []
        result: list[SimPosition] = []
        for market_ticker in sorted(account.position_history):
            if ticker is not None and market_ticker != ticker:
                continue
            snap = account.position_history[market_ticker].at(as_of_ms)
            if snap is not None and (snap.position != 0 or snap.total_traded != 0):
                result.append(snap)
        return result

    def read_balance(self, user_id: str, as_of_ms: TsMs | None) -> SimBalance:
        account = self.accounts.get(user_id)
        snap = account.balance_history.at(as_of_ms) if account is not None else None
        if snap is None:
            return SimBalance(balance=0, portfolio_value=0, updated_ms=as_of_ms or 0)
        return snap

    def trim_history(self, now_ms: TsMs) -> None:
        """Forget what is older than the retention bounds, so memory stays bounded."""
        horizon = now_ms - self.history_ms
        while self.finished and self.finished[0][0] < horizon:
            _, order_id = self.finished.popleft()
            order = self.order_by_id.pop(order_id, None)
            if order is not None:
                account = self.accounts[order.user_id]
                account.orders.pop(order_id, None)
                if account.finished and account.finished[0][1] == order_id:
                    account.finished.popleft()
        tape_horizon = now_ms - self.tape_retention_ms
        while self.tape and self.tape[0].ts_ms < tape_horizon:
            self.tape.popleft()
        for market in self.market_by_ticker.values():
            while market.trades and market.trades[0].ts_ms < tape_horizon:
                market.trades.popleft()
        for account in self.accounts.values():
            self._trim_account(account, horizon, tape_horizon)

    def _trim_account(self, account: Account, horizon: TsMs, tape_horizon: TsMs) -> None:
        while account.fills and account.fills[0].ts_ms < tape_horizon:
            account.fills.popleft()
        account.balance_history.trim(horizon)
        for timeline in account.position_history.values():
            timeline.trim(horizon)
        for by_market in account.resting.values():
            for order in by_market.values():
                order.trim_versions(horizon)
