"""Whether the loop is halted this cycle, and what a change of that means
(docs/architecture.md#the-loop).

A halt comes from the risk limits (the daily loss with the other shards' share, consecutive
errors: :func:`dora.core.risk.evaluate_halt`, which then sets the saved halt flag) or from the
operator's flag. A new halt is announced once: logged, dora's quotes pulled through the order
group, recorded in the decision log and saved, and the log rows queued so far flushed (for a
short while) so that they tell what led to it. Trading resuming is logged, lifts the group's halt
and is saved.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from dora.bot.handover import Handover
from dora.bot.persistence import Persister
from dora.bot.state import BotState
from dora.core.order_groups import TriggeredBy
from dora.core.positions import unrealized_pnl
from dora.core.risk import evaluate_halt
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event

HALT_LOG_FLUSH_S = 2.0  # on a new halt, the longest wait for the log rows queued so far


class HaltGuard:
    def __init__(self, handover: Handover, persister: Persister, clock: Clock,
                 logger: logging.Logger) -> None:
        self._handover = handover
        self._persister = persister
        self._clock = clock
        self._log = logger
        self.reason = ""  # why trading is halted as last announced ("": it is not)

    def check(self, state: BotState) -> bool:
        """Risk limits and the operator's flag; True while halted."""
        unrealized = sum(
            unrealized_pnl(p, state.books[t])
            for t, p in state.positions.items()
            if t in state.books and p.net
        )
        decision = evaluate_halt(state.risk, unrealized, state.global_config,
                                 state.consecutive_errors, state.elsewhere_pnl)
        if decision.halt and not state.risk.trading_halted:
            state.risk = replace(state.risk, trading_halted=True, halt_reason=decision.reason)
        risk = state.risk
        reason = (risk.halt_reason or "manual") if risk.trading_halted else state.operator_halt
        if reason != self.reason:
            self._announce(state, reason)
        return bool(reason)

    def _announce(self, state: BotState, reason: str) -> None:
        if not reason:
            log_event(self._log, EventType.RISK_RESUME, "trading resumed", halted=False)
            self._handover.groups.lift(TriggeredBy.HALT)  # when it fails, the next cycle again
            self.reason = reason
            self._persister.save_state(state)
            return
        self.reason = reason
        log_event(self._log, EventType.RISK_HALT, "trading halted", level=logging.CRITICAL,
                  reason=reason, halted=True, daily_pnl_micros=state.risk.daily_pnl)
        self._handover.pull_quotes(state, TriggeredBy.HALT)
        self._persister.record_special("risk_halt_cancel", state, self._clock.now_ms())
        self._persister.save_state(state)
        if not self._persister.flush_logs(HALT_LOG_FLUSH_S):
            log_event(self._log, EventType.ERROR, "log rows still queued after the halt",
                      level=logging.WARNING, backlog=self._persister.log_stats().backlog)
