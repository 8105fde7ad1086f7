"""Calibration steps 3-5, run at startup and again every ``recalibrate_every_s``.

3. ``markets``: each enabled market config's market is listed, open, closes beyond the close guard,
   has a tick grid, and has a two-sided book or a configured fair value
   (:mod:`dora.core.viability`); each non-viable market is listed with its reason. It warns when
   the account's write tokens cannot pay a full requote of the viable markets within one loop
   interval (:mod:`dora.core.requote_budget`).
4. ``portfolio``: every open position with its entry and unrealized P&L, and the ones in markets
   dora does not manage, in markets not open, beyond their caps, or stuck.
5. ``cash``: the free cash (the promised-cash ledger's) against the collateral a full quote of
   every quotable market needs and ``min_cash_reserve`` (:mod:`dora.core.cash_plan`). When it is
   not enough, the markets dora cannot afford, in the stated order, are not quoted until a later
   check finds the cash (``unaffordable``; the loop sets them aside).
"""

from __future__ import annotations

import math

from dora.bot.lifecycle.parts import Found, LifecycleParts
from dora.bot.lifecycle.rules import RulesWatch
from dora.core.calibration import StepStatus
from dora.core.cash_plan import CashPlan, effective_reserve, plan_cash, quote_collateral
from dora.core.ledger import resting_collateral
from dora.core.market_config import MarketConfig
from dora.core.models import OrderBook, PositionState
from dora.core.positions import avg_entry_price, unrealized_pnl
from dora.core.requote_budget import (
    RequoteBudget,
    WriteBucket,
    budget_warning,
    full_requote_budget,
)
from dora.core.tiers import Bucket
from dora.core.units import Micros, format_count, format_micros, format_price
from dora.core.viability import market_viability, portfolio_findings, viability_by_market
from dora.exchange.endpoints import BATCH_CANCEL, BATCH_CREATE

MAX_MARKET_LINES = 40


class MarketChecks:
    def __init__(self, parts: LifecycleParts, rules: RulesWatch, *, acting: bool) -> None:
        self._p = parts
        self._rules = rules
        self._acting = acting
        self.unaffordable: dict[str, str] = {}  # market -> why (the last cash check's)

    def _enabled(self) -> dict[str, MarketConfig]:
        return {t: c for t, c in sorted(self._p.state.configs.items())
                if isinstance(c, MarketConfig) and c.enabled}

    # -- 3. markets ---------------------------------------------------------------------------
    def markets(self) -> Found:
        state, enabled = self._p.state, self._enabled()
        if not enabled:
            return Found(StepStatus.WARN, "no enabled market configs: nothing to quote")
        held = [t for t, p in state.positions.items() if p.net and not p.settled]
        listed = self._rules.read(sorted(set(enabled) | set(held)))
        books = self._p.client.fetch_orderbooks(sorted(listed)) if listed else {}
        state.books.update(books)
        state.last_sync_ms["books"] = state.as_of_ms
        problems = viability_by_market(enabled, listed, books, self._p.clock.now_ms(),
                                       state.global_config.close_guard_ms)
        found = Found(StepStatus.OK,
                      f"{len(enabled) - len(problems)} of {len(enabled)} enabled markets viable",
                      [(ticker, reason) for ticker, reason in problems.items()])
        if problems:
            found.warn()
        budget = self._requote_budget({t: c.levels for t, c in enabled.items()
                                       if t not in problems})
        if not budget.fits:
            found.warn()
            found.details.append(("requote_budget", budget_warning(
                budget, self._p.client.limiter.tier.name,
                state.global_config.loop_interval_ms)))
        return found

    def _requote_budget(self, levels_by_market: dict[str, int]) -> RequoteBudget:
        limiter = self._p.client.limiter
        return full_requote_budget(
            levels_by_market,
            WriteBucket(limiter.capacity(Bucket.WRITE), math.floor(limiter.rate(Bucket.WRITE))),
            create_cost=limiter.cost(BATCH_CREATE.method, BATCH_CREATE.template, 1),
            cancel_cost=limiter.cost(BATCH_CANCEL.method, BATCH_CANCEL.template, 1),
            interval_ms=self._p.state.global_config.loop_interval_ms)

    # -- 4. portfolio -------------------------------------------------------------------------
    def portfolio(self) -> Found:
        state = self._p.state
        held = {t: p for t, p in sorted(state.positions.items()) if p.net and not p.settled}
        missing = [t for t in held if t not in state.books]
        if missing:
            state.books.update(self._p.client.fetch_orderbooks(missing))
        findings = portfolio_findings(held, state.configs, state.rules, self._p.clock.now_ms(),
                                      state.global_config.stuck_after_s * 1000)
        total = sum(_unrealized(p, state.books.get(t)) for t, p in held.items())
        found = Found(StepStatus.OK, (f"{len(held)} open positions, unrealized "
                                      f"${format_micros(total)}, {len(findings)} findings"))
        found.details += [(t, _position_line(p, state.books.get(t))) for t, p in held.items()]
        found.details += [(f.ticker, f"{f.kind}: {f.detail}") for f in findings]
        return found.warn() if findings else found

    # -- 5. cash ------------------------------------------------------------------------------
    def cash(self) -> Found:
        state = self._p.state
        view = state.cash_view()
        if view is None:
            return Found(StepStatus.FAIL, "no balance read yet: the cash cannot be checked")
        value = view.balance + (state.balance.portfolio_value if state.balance else 0)
        reserve, reserve_note = effective_reserve(state.global_config.min_cash_reserve, value)
        own = [o for o in state.resting if o.client_order_id.startswith(self._p.id_prefix)]
        held = resting_collateral(state.positions, own)
        needs = self._needs()
        plan = plan_cash(needs, view.free + held - reserve, state.global_config.cash_priority)
        if self._acting:
            self.unaffordable = {t: _unaffordable_reason(plan, needs[t])
                                 for t in plan.unaffordable}
        found = Found(StepStatus.OK, _cash_summary(plan, view.free, held, reserve), [
            ("free", f"${format_micros(view.free)} (balance ${format_micros(view.balance)}, "
                     f"promised ${format_micros(view.promised)}, released "
                     f"${format_micros(view.released)})"),
            ("held_by_dora", f"${format_micros(held)} in dora's resting orders"),
            ("min_cash_reserve", f"${format_micros(reserve)}"),
            ("needed", f"${format_micros(plan.needed)} for {len(needs)} markets"),
            ("order", f"{plan.priority}: {', '.join(plan.affordable + plan.unaffordable)}")])
        if reserve_note:
            found.warn()
            found.details.append(("min_cash_reserve_ignored", reserve_note))
        found.details += [(t, f"needs ${format_micros(needs[t])}: quoted")
                          for t in plan.affordable[:MAX_MARKET_LINES]]
        found.details += [(t, f"needs ${format_micros(needs[t])}: not affordable")
                          for t in plan.unaffordable[:MAX_MARKET_LINES]]
        return found if plan.sufficient else found.warn()

    def _needs(self) -> dict[str, Micros]:
        """What a full quote of each market that could be quoted now needs (viable on its
        rules and the time, no breaker open, not held)."""
        state, now_ms = self._p.state, self._p.clock.now_ms()
        needs: dict[str, Micros] = {}
        for ticker, config in self._enabled().items():
            reason = market_viability(config, state.rules.get(ticker), None, now_ms,
                                      state.global_config.close_guard_ms)
            if reason or ticker in state.no_orders:
                continue
            net = state.positions.get(ticker, PositionState(ticker)).net
            needs[ticker] = quote_collateral(config, state.books.get(ticker), net)
        return needs


def _unrealized(position: PositionState, book: OrderBook | None) -> Micros:
    return unrealized_pnl(position, book) if book is not None else 0


def _position_line(position: PositionState, book: OrderBook | None) -> str:
    entry = avg_entry_price(position)
    mark = "no book" if book is None else f"${format_micros(_unrealized(position, book))}"
    return (f"net {format_count(position.net)}, entry "
            f"{format_price(entry) if entry is not None else '-'}, unrealized {mark}")


def _cash_summary(plan: CashPlan, free: Micros, held: Micros, reserve: Micros) -> str:
    money = (f"free ${format_micros(free)} + held ${format_micros(held)} - reserve "
             f"${format_micros(reserve)} = ${format_micros(plan.budget)} for "
             f"${format_micros(plan.needed)} needed")
    if plan.sufficient:
        return f"enough cash: {money}"
    return (f"insufficient cash: {money}; quoting {len(plan.affordable)} markets, "
            f"not {', '.join(plan.unaffordable)} ({plan.priority} order)")


def _unaffordable_reason(plan: CashPlan, need: Micros) -> str:
    return (f"insufficient_cash: needs ${format_micros(need)}, the budget of "
            f"${format_micros(plan.budget)} goes to markets earlier in the {plan.priority} order")
