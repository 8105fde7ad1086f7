"""Expiry renewal of kept orders: which to renew this cycle, how many, and when to stop. Pure.

Every order dora places carries an expiry, so that nothing it leaves behind (a crash, a
partition) rests for long. A quote dora keeps would lapse with it and lose its queue place, so
before it lapses dora renews it with an expiry-only amend, which keeps the place
(docs/kalshi-notes.md#order-entry). Renewal is spread over cycles:

- an order is due once less than a third of the expiry period is left (five minutes of a
  fifteen-minute expiry: many cycles to get to it, whatever else the cycle has to do);
- the due orders closest to lapsing go first, and a cycle renews at most half the write tokens
  its own cancels and places left spare (and never more than :data:`MAX_RENEWALS_PER_CYCLE`), so
  renewal never makes a write wait on the bucket nor takes what the next cycle needs;
- each renewal moves the expiry to a full period from now, so the renewed orders spread out.

When the exchange does not support it, dora falls back to letting orders lapse and placing them
again, without retrying forever: an order whose renewal is refused is never tried again (it
lapses), a refusal of the call itself (a retired or disallowed call) turns renewal off for the
run at once, and :data:`REFUSALS_BEFORE_FALLBACK` refusals in a row with no renewal succeeding in
between do too. A 404 is ambiguous (the order is gone, or the exchange has no such call): it
counts as a refusal only once a listing as of after the 404 still shows the order resting.
A renewal whose answer was lost is not sent again: the read-lag overlay shows its new expiry
until the listing is current past it, and only a listing showing the old expiry makes it due.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dora.core.models import RenewResult, RenewStatus, RestingOrder, TsMs
from dora.core.overlay import is_unconfirmed

RENEW_WHEN_LEFT_DIVISOR = 3  # due with less than 1/3 of the expiry period left
SPARE_TOKEN_DIVISOR = 2  # renewals use at most half the spare write tokens
MAX_RENEWALS_PER_CYCLE = 20
REFUSALS_BEFORE_FALLBACK = 3
VERDICT_MARGIN_MS = 1_000  # a 404 is judged by a listing this much past it (clock skew)

# Refusals that say nothing about the call (the order's own state) count against that order only.
_ORDER_ONLY = frozenset({RenewStatus.CONFLICT})
_STRIKES = frozenset({RenewStatus.REJECTED})


def renewal_budget(spare_tokens: int, cost: int) -> int:
    """How many renewals this cycle may send, given the write tokens left after its own work."""
    if cost <= 0:
        raise ValueError(f"a renewal's cost must be positive, got {cost}")
    return max(0, min(MAX_RENEWALS_PER_CYCLE, spare_tokens // SPARE_TOKEN_DIVISOR // cost))


@dataclass
class Renewals:
    """What dora has learnt about renewing during this run."""

    expiry_s: int
    disabled_reason: str = ""  # set once renewal is off for the run
    refusals_in_row: int = 0
    given_up: set[str] = field(default_factory=set)  # order ids: left to lapse
    unexplained_404: dict[str, TsMs] = field(default_factory=dict)  # order id -> answered at

    def __post_init__(self) -> None:
        if self.expiry_s <= 0:
            raise ValueError(f"expiry_s must be positive, got {self.expiry_s}")

    @property
    def enabled(self) -> bool:
        return not self.disabled_reason

    @property
    def lead_ms(self) -> TsMs:
        return self.expiry_s * 1000 // RENEW_WHEN_LEFT_DIVISOR

    def new_expiry_s(self, now_ms: TsMs) -> int:
        return now_ms // 1000 + self.expiry_s

    def due(self, kept: Iterable[RestingOrder], now_ms: TsMs) -> list[RestingOrder]:
        """Kept orders to renew, closest to lapsing first. An order already past its expiry is
        gone at the exchange (the listing lags): renewing it would only draw a 404."""
        if not self.enabled:
            return []
        due = [o for o in kept
               if o.expires_ms and now_ms < o.expires_ms <= now_ms + self.lead_ms
               and o.order_id not in self.given_up and o.order_id not in self.unexplained_404
               and not is_unconfirmed(o)]
        return sorted(due, key=lambda o: (o.expires_ms, o.order_id))

    def record(self, result: RenewResult, answered_ms: TsMs) -> bool:
        """Learn from one renewal's outcome (UNKNOWN and NOT_SENT teach nothing: the overlay,
        the next listing and the next cycle take care of them). True when it turned renewal
        off."""
        was_enabled = self.enabled
        self._learn(result, answered_ms)
        return was_enabled and not self.enabled

    def _learn(self, result: RenewResult, answered_ms: TsMs) -> None:
        status = result.status
        if status is RenewStatus.RENEWED:
            self.refusals_in_row = 0
        elif status is RenewStatus.NOT_FOUND:
            self.unexplained_404[result.order_id] = answered_ms
        elif status is RenewStatus.UNSUPPORTED:
            self.given_up.add(result.order_id)
            self.disabled_reason = f"the exchange refused the amend call: {result.error_code}"
        elif status in _ORDER_ONLY:
            self.given_up.add(result.order_id)
        elif status in _STRIKES:
            self.given_up.add(result.order_id)
            self._refused(f"{result.error_code}: {result.error_message}")

    def settle(self, resting: Sequence[RestingOrder], as_of_ms: TsMs) -> bool:
        """Judge 404s by a listing as of after them: an order still resting was there, so the
        404 was the call's. Forget orders that no longer rest. True when it turned renewal
        off."""
        was_enabled = self.enabled
        resting_ids = {o.order_id for o in resting}
        for order_id, answered_ms in list(self.unexplained_404.items()):
            if as_of_ms < answered_ms + VERDICT_MARGIN_MS:
                continue
            del self.unexplained_404[order_id]
            if order_id in resting_ids:
                self.given_up.add(order_id)
                self._refused("404 on an order the exchange still lists as resting")
        self.given_up &= resting_ids
        return was_enabled and not self.enabled

    def _refused(self, reason: str) -> None:
        self.refusals_in_row += 1
        if self.refusals_in_row >= REFUSALS_BEFORE_FALLBACK and self.enabled:
            self.disabled_reason = (f"{self.refusals_in_row} renewals refused in a row, the last: "
                                    f"{reason}")
