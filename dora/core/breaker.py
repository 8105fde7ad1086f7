"""Per-market circuit breakers: the state machine. Pure (docs/architecture.md#self-healing).

A market whose orders keep failing for reasons of its own is taken out of trading for a while, so
dora stops sending orders the exchange will refuse and every other market goes on:

- ``closed``: trading. Each counted failure (:func:`counts_against_market`) adds one to
  ``failures``; any success sets it back to zero. ``failures`` reaching the threshold opens it.
- ``open``: nothing is sent to the market (the loop cancels dora's orders there) until
  ``open_until_ms``; the cool-off doubles with every trip in a row, up to a cap.
- ``half_open``: the cool-off is over; the market trades again on probation. Its first outcome
  decides: a failure opens it again (one more trip), a success closes it.

Trips are forgiven once the breaker has stayed closed for the longest cool-off. An operator can
close a breaker by hand (:func:`reset`), which also forgets its trips.

What counts: rejections and errors that say something about this market (an off-grid price, an
invalid order, a market the exchange does not know) and a strategy that fails for it. Not counted:
ordinary outcomes (a post-only order that would have crossed, a cancel that found its order
already gone) and failures that are not the market's (rate limits, a request that was never sent or
whose answer was lost, the account's cash, an order group's trigger, a paused or closed market,
which the loop handles as the market's state, and what dora's own gate did not send: the lease,
the group, a stop).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from dora.core.fencing import GATE_REFUSALS
from dora.core.models import TsMs

# Error codes that say nothing about the market itself (see the module docstring).
NOT_THE_MARKETS_FAULT = frozenset({
    "post_only_cross",  # ordinary: a quote that would have taken; the next cycle reprices
    "not_found",  # a cancel of an order already gone (done), or an unknown order id
    "rate_limited", "not_sent", "outcome_unknown", "unknown_outcome", "unreadable_response",
    "transient",
    "insufficient_balance", "order_group_triggered", "order_already_exists",
    "trading_is_paused", "market_closed",  # the market's state: re-read, not a breaker
}) | GATE_REFUSALS  # dora's own gate: the lease, the group, a stop


def counts_against_market(error_code: str) -> bool:
    return bool(error_code) and error_code not in NOT_THE_MARKETS_FAULT


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5  # counted failures in a row that open the breaker
    cooloff_ms: int = 30_000  # the first cool-off; it doubles with every trip in a row
    cooloff_max_ms: int = 900_000

    def __post_init__(self) -> None:
        if self.failures < 1 or self.cooloff_ms < 1 or self.cooloff_max_ms < self.cooloff_ms:
            raise ValueError(f"bad breaker settings {self}: failures and cool-off must be "
                             f"positive, the cap at least the first cool-off")

    def cooloff_for(self, trips: int) -> int:
        """The cool-off of the ``trips``-th trip in a row (1-based), capped."""
        doubled = self.cooloff_ms << min(max(trips - 1, 0), 40)
        return min(doubled, self.cooloff_max_ms)


@dataclass(frozen=True, slots=True)
class Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # counted failures since the last success
    trips: int = 0  # times opened in a row (forgiven after a long enough closed spell)
    open_until_ms: TsMs = 0
    changed_ms: TsMs = 0  # when the state last changed
    reason: str = ""  # the last counted failure
    reset_ms: TsMs = 0  # the last time an operator closed it by hand

    def __post_init__(self) -> None:
        if self.failures < 0 or self.trips < 0:
            raise ValueError(f"breaker counts must not be negative: {self}")

    @property
    def allows_orders(self) -> bool:
        return self.state is not BreakerState.OPEN


@dataclass(frozen=True, slots=True)
class Attempt:
    """One outcome in one market: a success, or a counted failure with its reason."""

    ok: bool
    reason: str = ""


def observe(
    breaker: Breaker, attempts: Sequence[Attempt], now_ms: TsMs, settings: BreakerSettings
) -> Breaker:
    """The breaker after a cycle's outcomes in its market, in the order they happened."""
    for attempt in attempts:
        if breaker.state is BreakerState.OPEN:
            break  # nothing more was (or should have been) sent
        breaker = _success(breaker, now_ms) if attempt.ok else _failure(
            breaker, attempt.reason, now_ms, settings)
    return breaker


def _success(breaker: Breaker, now_ms: TsMs) -> Breaker:
    if breaker.state is BreakerState.HALF_OPEN:
        return replace(breaker, state=BreakerState.CLOSED, failures=0, changed_ms=now_ms)
    return replace(breaker, failures=0) if breaker.failures else breaker


def _failure(breaker: Breaker, reason: str, now_ms: TsMs, settings: BreakerSettings) -> Breaker:
    failures = breaker.failures + 1
    if breaker.state is BreakerState.HALF_OPEN or failures >= settings.failures:
        trips = breaker.trips + 1
        return replace(breaker, state=BreakerState.OPEN, failures=failures, trips=trips,
                       open_until_ms=now_ms + settings.cooloff_for(trips), changed_ms=now_ms,
                       reason=reason)
    return replace(breaker, failures=failures, reason=reason)


def advance(breaker: Breaker, now_ms: TsMs, settings: BreakerSettings) -> Breaker:
    """Time passes: an open breaker whose cool-off is over becomes half-open; a breaker closed
    for the longest cool-off forgets its trips."""
    if breaker.state is BreakerState.OPEN and now_ms >= breaker.open_until_ms:
        return replace(breaker, state=BreakerState.HALF_OPEN, changed_ms=now_ms)
    if (breaker.state is BreakerState.CLOSED and breaker.trips
            and now_ms - breaker.changed_ms >= settings.cooloff_max_ms):
        return replace(breaker, trips=0)
    return breaker


def reset(breaker: Breaker, now_ms: TsMs) -> Breaker:
    """An operator closes the breaker by hand: trading resumes and its history is forgotten."""
    return Breaker(changed_ms=now_ms, reset_ms=now_ms)


def operator_resets(
    ours: Mapping[str, Breaker], stored: Mapping[str, Breaker]
) -> dict[str, Breaker]:
    """The breakers an operator closed by hand since ``ours`` were read (a newer reset time)."""
    return {t: b for t, b in stored.items()
            if b.reset_ms and b.reset_ms > ours.get(t, Breaker()).reset_ms}


def is_idle(breaker: Breaker) -> bool:
    """Nothing worth keeping: closed, no failures or trips, never reset by hand."""
    return (breaker.state is BreakerState.CLOSED and not breaker.failures and not breaker.trips
            and not breaker.reset_ms)
