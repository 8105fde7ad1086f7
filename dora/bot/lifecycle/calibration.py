"""Startup calibration: named steps run before the first quote (docs/architecture.md#lifecycle).

1. ``exchange``: the exchange's trading status (with its estimated resume time when paused); the
   account's real rate limits (``GET /account/limits``) and endpoint costs
   (``GET /account/endpoint_costs``), which replace the configured tier's in the client; a
   configured tier that differs is reported, never trusted. An endpoint the exchange does not
   offer (404) or answers unreadably leaves the configured figures, with a warning.
2. ``state_sync``: wait until the exchange's reads reflect earlier runs, then resting orders,
   fills since the cursor, positions, balance and the last 24 h of settlements; each kind's last
   successful sync time is kept (``BotState.last_sync_ms``).
3-5. ``markets``, ``portfolio``, ``cash``: :mod:`dora.bot.lifecycle.checks` (also re-run by the
   recalibration).
6. ``session``: the session's starting balance, portfolio value and positions.

A step that cannot complete (a read fails) is ``fail`` with the error; the loop then quotes
nothing until it passes. Acting (the bot), a successful ``state_sync`` runs ``after_sync`` (the
startup cancel); read-only (``dora calibrate``), nothing is written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from dora.bot.lifecycle.checks import MarketChecks
from dora.bot.lifecycle.parts import Found, LifecycleParts, Step
from dora.core.calibration import (
    CASH,
    EXCHANGE,
    MARKETS,
    PORTFOLIO,
    SESSION,
    STATE_SYNC,
    CalibrationReport,
    CalibrationStep,
    StepStatus,
    capped,
)
from dora.core.errors import DoraError, FatalError, NotFoundError, OutOfTimeError
from dora.core.session import session_start
from dora.core.tiers import CostTable, Tier
from dora.core.timefmt import iso_ms
from dora.core.units import format_micros
from dora.exchange import endpoints
from dora.exchange.wire import WireFormatError
from dora.runtime.logs import EventType, log_event

STARTUP_CATCH_UP_S = 10.0  # longest wait for the exchange's reads to reflect an earlier run
SETTLEMENT_LOOKBACK_MS = 24 * 3_600_000
KNOWN_ENDPOINTS = tuple(
    (e.method, e.template) for e in vars(endpoints).values() if isinstance(e, endpoints.Endpoint))


class Calibrator:
    def __init__(
        self, parts: LifecycleParts, checks: MarketChecks, *, acting: bool,
        after_sync: Callable[[], None] | None = None,
    ) -> None:
        self._p = parts
        self._acting = acting
        self._after_sync = after_sync
        self.started_ms = parts.clock.now_ms()
        self._steps: dict[str, Step] = {
            EXCHANGE: self._exchange, STATE_SYNC: self._state_sync, MARKETS: checks.markets,
            PORTFOLIO: checks.portfolio, CASH: checks.cash, SESSION: self._session,
        }

    def run(self, names: Sequence[str], kind: str) -> CalibrationReport:
        steps = tuple(self._timed(name) for name in names)
        return CalibrationReport(self._p.clock.now_ms(), kind, steps)

    def _timed(self, name: str) -> CalibrationStep:
        started = self._p.clock.monotonic()
        try:
            found = self._steps[name]()
        except (FatalError, OutOfTimeError):
            raise  # bad credentials, schema drift, or a stop: not a check's result
        except DoraError as exc:
            found = Found(StepStatus.FAIL, f"{type(exc).__name__}: {exc}")
        duration_ms = round((self._p.clock.monotonic() - started) * 1000)
        return CalibrationStep(name, found.status, duration_ms, found.summary,
                               capped(found.details))

    # -- 1. the exchange ----------------------------------------------------------------------
    def _exchange(self) -> Found:
        client = self._p.client
        status = client.fetch_exchange_status()
        self._p.state.exchange = status
        resume = iso_ms(status.resume_ms) if status.resume_ms else "not given"
        found = Found(StepStatus.OK, "trading is active", [
            ("exchange_active", str(status.exchange_active).lower()),
            ("trading_active", str(status.trading_active).lower())])
        if not status.trading:
            found.warn(f"trading is paused (estimated resume: {resume}): dora places nothing "
                       f"until it resumes")
            found.details.append(("estimated_resume", resume))
        tier = self._account_limits(found)
        costs = self._endpoint_costs(found)
        client.limiter.adopt(tier or client.limiter.tier, costs)
        return found

    def _account_limits(self, found: Found) -> Tier | None:
        configured = self._p.client.limiter.tier
        try:
            real = self._p.client.fetch_account_limits()
        except (NotFoundError, WireFormatError) as exc:
            found.warn()
            found.details.append(("limits", f"not read ({exc}); using the configured tier "
                                            f"{configured.name}: {budget_text(configured)}"))
            return None
        found.details.append(("limits", f"{real.name}: {budget_text(real)}"))
        if budget_text(real) != budget_text(configured):
            found.warn()
            found.details.append(("tier_mismatch", (
                f"the configured tier {configured.name} ({budget_text(configured)}) is not the "
                f"account's; using the account's limits")))
        return real

    def _endpoint_costs(self, found: Found) -> CostTable | None:
        try:
            costs = self._p.client.fetch_endpoint_costs()
        except (NotFoundError, WireFormatError) as exc:
            found.details.append(("endpoint_costs", f"not read ({exc}); using dora's table"))
            return None
        changed = self._p.client.limiter.costs.differences(costs, KNOWN_ENDPOINTS)
        found.details.append(("endpoint_costs", f"default {costs.default_cost}, "
                                                f"{len(changed)} differ from dora's table"))
        found.details += [("cost_changed", text) for text in changed]
        return costs

    # -- 2. state sync ------------------------------------------------------------------------
    def _state_sync(self) -> Found:
        p, state = self._p, self._p.state
        reconciler = p.reconciler
        found = Found(StepStatus.OK, "")
        if reconciler.wait_until_current(self.started_ms, p.clock, STARTUP_CATCH_UP_S) is None:
            found.warn()
            found.details.append(("read_lag", "the exchange's reads still lag this start"))
        reconciler.sync_orders(state)
        if not state.risk.last_fill_ts_ms:
            reconciler.adopt_exchange_positions(state, state.as_of_ms)
        fills = reconciler.sync_fills(state)
        reconciler.sync_positions(state)
        reconciler.sync_balance(state)
        reconciler.sync_settlements(state, p.clock.now_ms() - SETTLEMENT_LOOKBACK_MS)
        own = sum(1 for o in state.resting if o.client_order_id.startswith(p.id_prefix))
        held = sum(1 for pos in state.positions.values() if pos.net and not pos.settled)
        balance = state.balance
        found.summary = (f"{len(state.resting)} resting ({own} of dora's), {len(fills)} new "
                         f"fills, {held} open positions, balance "
                         f"${format_micros(balance.balance) if balance else '-'}")
        found.details += [(f"synced_{kind}", iso_ms(ts))
                          for kind, ts in sorted(state.last_sync_ms.items()) if ts]
        if self._acting and self._after_sync is not None:
            self._after_sync()
        return found

    # -- 6. session ---------------------------------------------------------------------------
    def _session(self) -> Found:
        state = self._p.state
        if state.balance is None:
            return Found(StepStatus.FAIL, "no balance read yet: the session has no start")
        start = state.session or session_start(self._p.run_id, self._p.clock.now_ms(),
                                               state.balance, state.positions)
        if self._acting:
            state.session = start
        pnl = start.pnl(state.balance)
        cash = state.session_cash
        return Found(StepStatus.OK, (
            f"started {iso_ms(start.started_ms)}: balance ${format_micros(start.balance)}, "
            f"portfolio ${format_micros(start.portfolio_value)}"), [
            ("started", iso_ms(start.started_ms)),
            ("start_balance", f"${format_micros(start.balance)}"),
            ("start_portfolio_value", f"${format_micros(start.portfolio_value)}"),
            ("start_positions", str(len(start.positions))),
            ("session_pnl", f"${format_micros(pnl)}"),
            ("cash_invested", f"${format_micros(cash.invested)}"),
            ("cash_recouped", f"${format_micros(cash.recouped)}"),
        ])


def budget_text(tier: Tier) -> str:
    return (f"read {tier.read_rate}/s burst {tier.read_capacity}, "
            f"write {tier.write_rate}/s burst {tier.write_capacity}")


def log_report(log: logging.Logger, report: CalibrationReport) -> None:
    """One CALIBRATION event per step, then one for the whole report."""
    for step in report.steps:
        level = {StepStatus.OK: logging.INFO, StepStatus.WARN: logging.WARNING,
                 StepStatus.FAIL: logging.ERROR}[step.status]
        log_event(log, EventType.CALIBRATION, f"{step.name}: {step.summary}", level=level,
                  step=step.name, status=step.status.value, duration_ms=step.duration_ms,
                  kind=report.kind, details=[list(pair) for pair in step.details])
    log_event(log, EventType.CALIBRATION, f"{report.kind} calibration {report.status.value}",
              kind=report.kind, status=report.status.value, failed=list(report.failed),
              steps={s.name: s.status.value for s in report.steps})
