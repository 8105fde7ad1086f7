"""Send expiry renewals (expiry-only amends) for kept orders close to lapsing; the policy (what is
due, how many fit, when to stop) is :mod:`dora.core.renewal`.

Renewals go after the cycle's own cancels and places, one request each (there is no batch amend),
as many as half the write tokens left spare pay for, so they never wait for tokens. A renewal the
exchange confirmed, or whose answer was lost, goes into the read-lag overlay: the listing shows
the new expiry from then on, so a lagging listing never makes dora renew the same order twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dora.core.models import RenewResult, RenewStatus, RestingOrder
from dora.core.overlay import Overlay
from dora.core.renewal import Renewals, renewal_budget
from dora.exchange import endpoints as ep
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event


class RenewWriter(Protocol):
    def renew_order(self, order: RestingOrder, expiration_s: int) -> RenewResult: ...
    def spare_write_tokens(self) -> int: ...


@dataclass
class RenewalCounts:
    renewed: int = 0  # expiry-only amends the exchange confirmed
    unknown: int = 0  # their answer was lost (the overlay assumes they applied)
    failed: int = 0  # refused or not sent
    deferred: int = 0  # due, but left to a later cycle by the write budget


class Renewer:
    def __init__(
        self, writer: RenewWriter, overlay: Overlay, clock: Clock, logger: logging.Logger, *,
        may_renew: Callable[[], bool], on_write: Callable[[int, int], None], grace_ms: int,
    ) -> None:
        self._writer = writer
        self._overlay = overlay
        self._clock = clock
        self._log = logger
        self._may_renew = may_renew
        self._on_write = on_write  # (answer arrived, exchange's ts_ms or 0)
        self._grace_ms = grace_ms  # how long a write whose answer was lost may still apply

    def renew(
        self, renewals: Renewals, due: Sequence[RestingOrder],
        fields_of: Callable[[RestingOrder], dict[str, Any]],
    ) -> RenewalCounts:
        """Renew ``due`` (closest to lapsing first) as far as this cycle's spare write tokens
        allow; the rest waits for a later cycle."""
        counts = RenewalCounts()
        if not due or not self._may_renew():
            return counts
        budget = renewal_budget(self._writer.spare_write_tokens(), ep.AMEND_ORDER.cost())
        counts.deferred = max(len(due) - budget, 0)
        for order in due[:budget]:
            if not renewals.enabled:
                break
            result = self._writer.renew_order(order, renewals.new_expiry_s(self._clock.now_ms()))
            returned_ms = self._clock.now_ms()
            self._on_write(returned_ms, result.ts_ms)
            turned_off = renewals.record(result, returned_ms)
            self._record(order, result, returned_ms, fields_of(order), counts)
            if turned_off:
                log_renewal_off(self._log, renewals)
        return counts

    def _record(
        self, order: RestingOrder, result: RenewResult, returned_ms: int,
        fields: dict[str, Any], counts: RenewalCounts,
    ) -> None:
        fields |= {"status": result.status.value, "expires_ms": result.expires_ms,
                   "previous_expires_ms": order.expires_ms}
        if result.status is RenewStatus.RENEWED:
            counts.renewed += 1
            self._overlay.record_renewed(order.order_id, result.expires_ms,
                                         result.ts_ms or returned_ms)
            log_event(self._log, EventType.ORDER_RENEWED, "order expiry renewed", **fields)
            return
        if result.status is RenewStatus.UNKNOWN:
            counts.unknown += 1
            # It may still apply until then: renewing it again before would be a double amend.
            self._overlay.record_renewed(order.order_id, result.expires_ms,
                                         returned_ms + self._grace_ms)
        else:
            counts.failed += 1
        log_event(self._log, EventType.ORDER_RENEW_FAILED, "order expiry not renewed",
                  level=logging.WARNING, error_code=result.error_code,
                  error_msg=result.error_message, **fields)


def log_renewal_off(logger: logging.Logger, renewals: Renewals) -> None:
    log_event(logger, EventType.RENEWAL_OFF,
              "expiry renewal off for this run: kept orders will lapse and be placed again",
              level=logging.WARNING, reason=renewals.disabled_reason)
