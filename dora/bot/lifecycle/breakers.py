"""Per-market circuit breakers in the loop (the state machine: :mod:`dora.core.breaker`).

After each cycle every market's outcomes (the exchange's answers to its places and cancels, and
its strategy failing) move its breaker. A breaker that opens sets the market aside (the loop's next
diff cancels dora's orders there; nothing is placed until the cool-off ends) and re-reads the
market's rules (a changed tick grid is then learnt). Half-open, the market trades again on
probation. Every change is a BREAKER event; the states are saved in ``api_errors`` and survive a
restart; ``dora markets reset`` closes one by hand (adopted within a cycle).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from dora.bot.lifecycle.parts import LifecycleParts
from dora.bot.lifecycle.rules import RulesWatch
from dora.core.breaker import (
    Attempt,
    Breaker,
    BreakerSettings,
    BreakerState,
    advance,
    counts_against_market,
    is_idle,
    observe,
    operator_resets,
)
from dora.core.models import TsMs
from dora.core.timefmt import iso_ms
from dora.runtime.logs import EventType, log_event


def attempts_by_market(
    events: Sequence[Mapping[str, Any]], market_errors: Mapping[str, str]
) -> dict[str, list[Attempt]]:
    """Each market's outcomes this cycle, in order: accepted places and cancels are successes;
    refused or failed ones count when the reason is the market's own; so does a strategy failure."""
    attempts: dict[str, list[Attempt]] = {}
    for event in events:
        market, status = str(event.get("market", "")), event.get("status")
        if not market:
            continue
        if status in ("ACCEPTED", "CANCELLED"):
            attempts.setdefault(market, []).append(Attempt(ok=True))
        elif status in ("REJECTED", "ERROR"):
            code = str(event.get("error_code", ""))
            if counts_against_market(code):
                attempts.setdefault(market, []).append(Attempt(ok=False, reason=code))
    for market, problem in market_errors.items():
        attempts.setdefault(market, []).append(Attempt(ok=False, reason=f"strategy: {problem}"))
    return attempts


class Breakers:
    def __init__(self, parts: LifecycleParts, rules: RulesWatch) -> None:
        self._p = parts
        self._rules = rules

    def settings(self) -> BreakerSettings:
        config = self._p.state.global_config
        return BreakerSettings(config.breaker_failures, config.breaker_cooloff_s * 1000,
                               config.breaker_cooloff_max_s * 1000)

    def advance(self, now_ms: TsMs) -> None:
        """Open breakers whose cool-off is over turn half-open; idle ones are forgotten."""
        settings, breakers = self.settings(), self._p.state.breakers
        for ticker, breaker in list(breakers.items()):
            moved = advance(breaker, now_ms, settings)
            if moved.state is not breaker.state:
                self._announce(ticker, moved, "cool-off over: trying the market again")
            if is_idle(moved):
                del breakers[ticker]
            else:
                breakers[ticker] = moved

    def observe(self, events: Sequence[Mapping[str, Any]], market_errors: Mapping[str, str],
                now_ms: TsMs) -> None:
        settings, breakers = self.settings(), self._p.state.breakers
        opened = []
        for ticker, attempts in attempts_by_market(events, market_errors).items():
            before = breakers.get(ticker, Breaker())
            after = observe(before, attempts, now_ms, settings)
            if after.state is not before.state:
                self._announce(ticker, after, _why(after))
                if after.state is BreakerState.OPEN:
                    opened.append(ticker)
            if after != before:
                breakers[ticker] = after
        if opened:
            self._rules.read(opened)  # what the market is now: a changed grid, a status

    def adopt_resets(self, stored: Mapping[str, Breaker]) -> None:
        """Breakers an operator closed by hand (``dora markets reset``)."""
        for ticker, breaker in operator_resets(self._p.state.breakers, stored).items():
            self._p.state.breakers[ticker] = breaker
            self._announce(ticker, breaker, "closed by an operator")

    def set_aside(self) -> dict[str, str]:
        """Markets whose breaker is open -> why (no order goes there)."""
        return {t: f"breaker open until {iso_ms(b.open_until_ms)} after {b.failures} failures "
                   f"({b.reason})"
                for t, b in self._p.state.breakers.items() if b.state is BreakerState.OPEN}

    def _announce(self, ticker: str, breaker: Breaker, message: str) -> None:
        level = logging.WARNING if breaker.state is BreakerState.OPEN else logging.INFO
        log_event(self._p.log, EventType.BREAKER, f"breaker {breaker.state.value}: {message}",
                  level=level, market=ticker, state=breaker.state.value,
                  failures=breaker.failures, trips=breaker.trips, reason=breaker.reason,
                  open_until=iso_ms(breaker.open_until_ms) if breaker.open_until_ms else "")


def _why(breaker: Breaker) -> str:
    if breaker.state is BreakerState.OPEN:
        return (f"{breaker.failures} failures in a row ({breaker.reason}); dora's orders there "
                f"are cancelled and nothing is placed until {iso_ms(breaker.open_until_ms)}")
    return "the market trades normally again"
