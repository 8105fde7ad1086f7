"""The stop budget: once a stop is requested, everything dora still does must be over within a
fixed time of the request (docs/aws-notes.md#stopping).

A container platform sends SIGTERM and, a stop timeout later, SIGKILL. From the request on, the
exchange client and the store fit every call into :meth:`StopBudget.remaining` (a shorter timeout,
no retry that cannot finish in time, no call at all when nothing is left), and the shutdown runs
its steps inside :meth:`StopBudget.step` so that one slow step cannot eat the time of the next.
Before any stop is requested ``remaining()`` is None: nothing is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from dora.runtime.clock import Clock, SystemClock

EXIT_RESERVE_S = 1.5  # of the budget, kept for the last log line and the interpreter's exit
# After a stop request the work in progress (the rest of a cycle) gets this long; later calls
# wait for the shutdown's steps, which start when that work ends.
WIND_DOWN_S = 2.0


class TimeLeft(Protocol):
    def remaining(self) -> float | None:
        """Seconds left for the next call, or None when nothing is bounded."""
        ...


class StopSignal(threading.Event):
    """A stop request that remembers when it was made; ``set()`` is safe in a signal handler."""

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self._clock = clock or SystemClock()
        self.requested_at: float | None = None

    def set(self) -> None:
        if self.requested_at is None:
            self.requested_at = self._clock.monotonic()
        super().set()


class StopBudget:
    """``budget_s`` from the stop request (a :class:`StopSignal`'s own time, else the moment the
    stop is first noticed or :meth:`begin` is called), less :data:`EXIT_RESERVE_S`. Until the
    first :meth:`step`, only :data:`WIND_DOWN_S` of it: a call in flight when the stop came
    finishes, but the cycle around it cannot spend the time the shutdown needs."""

    def __init__(self, stop: threading.Event, clock: Clock, budget_s: float) -> None:
        if budget_s <= EXIT_RESERVE_S:
            raise ValueError(f"a stop budget must exceed {EXIT_RESERVE_S} s, got {budget_s}")
        self._stop = stop
        self._clock = clock
        self._budget_s = budget_s
        self._started: float | None = None
        self._stepping = False
        self._step_ends: list[float] = []

    @property
    def started(self) -> bool:
        return self._start() is not None

    def begin(self) -> None:
        """Start the budget now unless a stop request already started it."""
        if self._start() is None:
            self._started = self._clock.monotonic()

    def remaining(self) -> float | None:
        start = self._start()
        if start is None:
            return None
        end = min([start + self._budget_s - EXIT_RESERVE_S, *self._step_ends])
        if not self._stepping:
            end = min(end, start + WIND_DOWN_S)
        return max(0.0, end - self._clock.monotonic())

    def elapsed(self) -> float:
        start = self._start()
        return 0.0 if start is None else self._clock.monotonic() - start

    @contextmanager
    def step(self, cap_s: float, *, leave_s: float = 0.0) -> Iterator[None]:
        """Inside, at most ``cap_s`` more, and never the last ``leave_s`` of the budget (kept for
        the steps after this one)."""
        self.begin()
        self._stepping = True
        now = self._clock.monotonic()
        total = self.remaining() or 0.0
        self._step_ends.append(now + max(0.0, min(cap_s, total - leave_s)))
        try:
            yield
        finally:
            self._step_ends.pop()

    def _start(self) -> float | None:
        if self._started is None and self._stop.is_set():
            requested = self._stop.requested_at if isinstance(self._stop, StopSignal) else None
            self._started = requested if requested is not None else self._clock.monotonic()
        return self._started
