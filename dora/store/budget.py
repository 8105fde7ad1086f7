"""DynamoDB calls under a stop budget (docs/aws-notes.md#stopping).

botocore fixes a client's timeouts and retries when the client is built, so the store keeps its
normal resource (3 s connect, 10 s read, five attempts) and, once a stop budget runs, sends each
call through a single-attempt variant whose worst case (connect + read timeout) fits the time
left; with less than the smallest variant needs, the call is not sent at all. A call of the
normal resource already in flight when the stop is requested finishes its attempt but starts no
SDK retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.config import Config

from dora.core.errors import StoreError
from dora.runtime.clock import Clock
from dora.runtime.deadline import TimeLeft
from dora.store.tables import plain_client_like

ResourceFactory = Callable[[Config], Any]  # a resource like the normal one, with this config

# (connect, read) timeouts of the variants, most patient first
BOUNDED_TIMEOUTS = ((2.0, 6.0), (1.0, 3.0), (0.5, 1.5), (0.25, 0.5))
_RETRIED_CODES = frozenset({
    "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "TransactionInProgressException", "InternalServerError", "ServiceUnavailable",
})


def single_attempt_config(connect_s: float, read_s: float) -> Config:
    return Config(connect_timeout=connect_s, read_timeout=read_s,
                  retries={"mode": "standard", "total_max_attempts": 1})


class WaitMeter:
    """Seconds each thread has spent waiting for DynamoDB's answers (from just before a request
    is sent until its answer is in, every attempt): the loop's share of a cycle that is
    DynamoDB's own time, not dora's."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._waited: dict[int, float] = {}

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self._sending)
        client.meta.events.register("needs-retry.dynamodb", self._answered)

    def take_ms(self) -> int:
        """The calling thread's wait since its last ``take_ms``, in whole milliseconds."""
        with self._lock:
            waited = self._waited.pop(threading.get_ident(), 0.0)
        return round(waited * 1000)

    def _sending(self, **_: Any) -> None:
        self._local.started = self._clock.monotonic()

    def _answered(self, **_: Any) -> None:
        started = getattr(self._local, "started", None)
        if started is None:
            return
        self._local.started = None
        waited = self._clock.monotonic() - started
        with self._lock:
            key = threading.get_ident()
            self._waited[key] = self._waited.get(key, 0.0) + waited


class BoundedResources:
    """The resource for the next call: the normal one, or under a running stop budget the
    variant that fits. Without ``variants`` the normal resource serves (retries still stop).
    Safe to use from several threads (a log writer's beside the loop's)."""

    def __init__(
        self, resource: Any, variants: ResourceFactory | None = None,
        meter: WaitMeter | None = None,
    ) -> None:
        self.default = resource
        self._variants = variants
        self._meter = meter
        self._built: dict[tuple[float, float], Any] = {}
        self._twins: dict[int, Any] = {}  # id(resource) -> its low-level twin (plain_now)
        self._building = threading.Lock()
        self._budget: TimeLeft | None = None
        resource.meta.client.meta.events.register("needs-retry.dynamodb", self._no_late_retry)
        self._metered(resource)

    def _metered(self, resource: Any) -> Any:
        if self._meter is not None:
            self._meter.watch(resource.meta.client)
        return resource

    def bound_by(self, budget: TimeLeft | None) -> None:
        self._budget = budget

    def now(self) -> Any:
        left = self._time_left()
        if left is None or self._variants is None:
            return self.default
        for connect_s, read_s in BOUNDED_TIMEOUTS:
            if connect_s + read_s <= left:
                return self._variant(connect_s, read_s)
        raise StoreError(f"not sent: the stop budget leaves {left:.2f}s, too little for a "
                         f"DynamoDB call")

    def plain_now(self) -> Any:
        """A low-level client like the resource :meth:`now` gives (the same timeouts, retries
        and stop rules), without the resource layer: it takes DynamoDB's attribute-value JSON."""
        resource = self.now()
        with self._building:
            twin = self._twins.get(id(resource))
            if twin is None:
                twin = self._twins[id(resource)] = plain_client_like(resource)
                twin.meta.events.register("needs-retry.dynamodb", self._no_late_retry)
                if self._meter is not None:
                    self._meter.watch(twin)
            return twin

    def _variant(self, connect_s: float, read_s: float) -> Any:
        key = (connect_s, read_s)
        with self._building:
            if key not in self._built:
                assert self._variants is not None
                self._built[key] = self._metered(
                    self._variants(single_attempt_config(connect_s, read_s)))
            return self._built[key]

    def _time_left(self) -> float | None:
        return None if self._budget is None else self._budget.remaining()

    def _no_late_retry(
        self, caught_exception: Exception | None = None, response: Any = None, **_: Any
    ) -> None:
        """botocore's needs-retry hook: once a stop budget runs, a failed attempt is final."""
        if self._time_left() is None:
            return
        if caught_exception is not None:
            raise StoreError(f"stopping, not retried: {caught_exception}") from caught_exception
        if response is None:
            return
        http, parsed = response
        code = str(parsed.get("Error", {}).get("Code", ""))
        if http.status_code >= 500 or code in _RETRIED_CODES:
            raise StoreError(f"stopping, not retried: HTTP {http.status_code} {code}")
