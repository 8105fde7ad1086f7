"""The session's starting point and the cash it put to work and got back. Pure.

At startup dora records the balance, the portfolio value and the positions; session P&L is then
always the account's value now (balance + portfolio value) minus that, whatever happened between.

Cash invested vs recouped (what the earlier bot's operators watched to see whether capital comes
back): a position ties up capital, the cash paid for a long lot (its ``open_cost``) or one dollar
per contract less the cash received for a short lot (a short YES lot is a long NO lot, paid one
dollar minus the price). A fill that moves cash out of the account (it ties up more capital, or
pays a fee) adds to ``invested``; one that brings cash back (it frees capital, with its profit or
loss) adds to ``recouped``; a settlement's payout is recouped. Per fill, the cash that left is the
capital it added less the P&L it realized (fees included, as :func:`dora.core.positions.apply_fill`
reports them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dora.core.models import Balance, Fill, PositionState, TsMs
from dora.core.positions import apply_fill
from dora.core.units import ONE_DOLLAR, Count, Micros, notional


@dataclass(frozen=True, slots=True)
class SessionStart:
    run_id: str
    started_ms: TsMs
    balance: Micros
    portfolio_value: Micros
    positions: tuple[tuple[str, Count], ...]  # open positions at start, by ticker

    @property
    def value(self) -> Micros:
        return self.balance + self.portfolio_value

    def pnl(self, balance: Balance) -> Micros:
        """Session P&L: the account's value now minus at the start."""
        return balance.balance + balance.portfolio_value - self.value


def session_start(
    run_id: str, started_ms: TsMs, balance: Balance, positions: Mapping[str, PositionState]
) -> SessionStart:
    held = tuple(sorted((t, p.net) for t, p in positions.items() if p.net and not p.settled))
    return SessionStart(run_id, started_ms, balance.balance, balance.portfolio_value, held)


def capital(position: PositionState) -> Micros:
    """Cash the open lot ties up."""
    if position.net > 0:
        return position.open_cost
    if position.net < 0:
        return notional(ONE_DOLLAR, -position.net) - position.open_cost
    return 0


@dataclass(frozen=True, slots=True)
class SessionCash:
    invested: Micros = 0
    recouped: Micros = 0

    @property
    def net(self) -> Micros:
        """Cash back minus cash out so far (negative while capital is still at work)."""
        return self.recouped - self.invested

    def flow(self, out: Micros) -> SessionCash:
        """Cash ``out`` of the account (negative: into it)."""
        if out >= 0:
            return replace(self, invested=self.invested + out)
        return replace(self, recouped=self.recouped - out)

    def after_fills(
        self, before: Mapping[str, PositionState], fills: Sequence[tuple[Fill, Micros]]
    ) -> SessionCash:
        """Replay the fills (as applied, in order) from the positions before them. An operator's
        manual fills count too: this is the account's cash."""
        positions = dict(before)
        cash = self
        for fill, _ in fills:
            was = positions.get(fill.ticker, PositionState(fill.ticker))
            now, realized = apply_fill(was, fill)
            positions[fill.ticker] = now
            cash = cash.flow(capital(now) - capital(was) - realized)
        return cash

    def after_settlement(self, before: PositionState, realized: Micros) -> SessionCash:
        """A settlement pays out the capital of the lot plus what it realized."""
        return self.flow(-(capital(before) + realized))


def session_flows(
    cash: SessionCash, before: Mapping[str, PositionState],
    fills: Sequence[tuple[Fill, Micros]], after: Mapping[str, PositionState],
) -> SessionCash:
    """A cycle's cash out and back: its fills, replayed from the positions ``before`` them, then
    the settlements that closed positions by ``after``."""
    cash = cash.after_fills(before, fills)
    replayed = dict(before)
    for fill, _ in fills:
        replayed[fill.ticker] = apply_fill(
            replayed.get(fill.ticker, PositionState(fill.ticker)), fill)[0]
    for ticker, now in after.items():
        was = replayed.get(ticker)
        if was is not None and now.settled and not was.settled:
            cash = cash.after_settlement(was, now.realized_pnl - was.realized_pnl)
    return cash
