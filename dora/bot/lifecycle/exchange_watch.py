"""The exchange's trading status, and single markets the exchange refuses as paused or closed.

While the exchange reports trading paused (``trading_active: false``, or the exchange inactive)
dora places nothing and keeps reconciling; it polls ``GET /exchange/status`` with a backoff
(1 s doubling to 30 s), never later than the exchange's estimated resume time, and quotes again by
itself once trading is active. While trading, the status is re-read every ``recalibrate_every_s``
and at once when an order is refused as paused.

A ``trading_is_paused`` or ``market_closed`` refusal while the exchange reports trading active is
that market's state, not the exchange's: the market is re-read and held (no order goes there) for
:data:`HOLD_MS`, then tried again if its rules still say it is open; every other market goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from dora.bot.lifecycle.parts import LifecycleParts, log_drift
from dora.bot.lifecycle.rules import RulesWatch
from dora.core.errors import OutOfTimeError, TransientError
from dora.core.models import ExchangeStatus, TsMs
from dora.core.timefmt import iso_ms
from dora.runtime.logs import EventType, log_event

POLL_MIN_S = 1.0
POLL_MAX_S = 30.0
HOLD_MS = 30_000
MARKET_STATE_CODES = frozenset({"trading_is_paused", "market_closed"})


class ExchangeWatch:
    def __init__(self, parts: LifecycleParts, rules: RulesWatch) -> None:
        self._p = parts
        self._rules = rules
        self._next_poll = 0.0  # monotonic seconds
        self._backoff_s = POLL_MIN_S
        self.holds: dict[str, tuple[TsMs, str]] = {}  # market -> (held until, why)

    @property
    def paused(self) -> bool:
        status = self._p.state.exchange
        return status is not None and not status.trading

    def nudge(self) -> None:
        """Read the status at the next chance (an order was refused as paused)."""
        self._next_poll = 0.0

    def poll_if_due(self) -> None:
        clock = self._p.clock
        if clock.monotonic() < self._next_poll:
            return
        try:
            status = self._p.client.fetch_exchange_status()
        except OutOfTimeError:
            raise
        except TransientError as exc:  # keep the last status; try again after the backoff
            log_event(self._p.log, EventType.EXCHANGE_STATUS, f"status not read: {exc}",
                      level=logging.WARNING, error_type=type(exc).__name__)
            self._schedule(self._p.state.exchange)
            return
        self.record(status)

    def record(self, status: ExchangeStatus) -> None:
        before = self._p.state.exchange
        self._p.state.exchange = status
        if before is None or before.trading != status.trading:
            self._announce(status)
        self._schedule(status)

    def _schedule(self, status: ExchangeStatus | None) -> None:
        clock = self._p.clock
        if status is not None and status.trading:
            self._backoff_s = POLL_MIN_S
            delay = float(self._p.state.global_config.recalibrate_every_s)
        else:
            delay = self._backoff_s
            self._backoff_s = min(self._backoff_s * 2, POLL_MAX_S)
            if status is not None and status.resume_ms:
                until_resume = (status.resume_ms - clock.now_ms()) / 1000
                delay = min(delay, max(until_resume, POLL_MIN_S))
        self._next_poll = clock.monotonic() + delay

    def _announce(self, status: ExchangeStatus) -> None:
        if status.trading:
            log_event(self._p.log, EventType.EXCHANGE_STATUS, "exchange trading is active",
                      exchange_active=True, trading_active=True)
            return
        resume = iso_ms(status.resume_ms) if status.resume_ms else ""
        log_event(self._p.log, EventType.EXCHANGE_STATUS,
                  "exchange trading is paused: placing nothing, reconciling, polling its status",
                  level=logging.WARNING, exchange_active=status.exchange_active,
                  trading_active=status.trading_active, estimated_resume=resume)

    # -- single markets -----------------------------------------------------------------------
    def after_refusals(self, events: Sequence[Mapping[str, Any]], now_ms: TsMs) -> None:
        """Orders refused as paused or closed: the exchange's pause, or those markets' state."""
        refused = {str(e["market"]): str(e.get("error_code")) for e in events
                   if e.get("error_code") in MARKET_STATE_CODES and e.get("market")}
        if not refused:
            return
        self.nudge()
        self.poll_if_due()
        if self.paused:
            return
        self._rules.read(sorted(refused))
        for ticker, code in sorted(refused.items()):
            if ticker not in self.holds:
                log_drift(self._p, "market_state",
                          "the exchange refused orders in one market while trading is active",
                          market=ticker, before="tradable", after=code,
                          action=f"re-read the market; no orders there for {HOLD_MS // 1000} s")
            self.holds[ticker] = (now_ms + HOLD_MS, f"held: the exchange answered {code}")

    def release_expired(self, now_ms: TsMs) -> None:
        """Holds that ran out end; those markets are read again (their status decides)."""
        expired = sorted(t for t, (until, _) in self.holds.items() if until <= now_ms)
        if not expired:
            return
        for ticker in expired:
            del self.holds[ticker]
        self._rules.read(expired)

    def held(self) -> dict[str, str]:
        """Markets held now -> why."""
        return {t: why for t, (_, why) in self.holds.items()}
