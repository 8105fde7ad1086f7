"""Where a cycle's time goes: reads, compute, cancels, places, persist (the CYCLE_SUMMARY's
``*_ms`` fields and the ``Phase*`` metrics).

The loop times its own phases; the quoter and the executor time the I/O they do inside the
quoting step (per-market book reads, the cancels, the places and renewals), and what is left of
the quoting step is compute (strategies, diff, risk, the cash checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dora.runtime.clock import Clock

PHASES = ("reads", "compute", "cancels", "places", "persist")


class PhaseTimes:
    """Milliseconds per phase since the last :meth:`reset` (one cycle)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._spent: dict[str, float] = dict.fromkeys(PHASES, 0.0)

    def reset(self) -> None:
        self._spent = dict.fromkeys(PHASES, 0.0)

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        if phase not in self._spent:
            raise ValueError(f"unknown phase {phase!r}; phases are {PHASES}")
        started = self._clock.monotonic()
        try:
            yield
        finally:
            self._spent[phase] += self._clock.monotonic() - started

    @contextmanager
    def computing(self) -> Iterator[None]:
        """Compute is what a step spends outside the I/O phases timed inside it."""
        io_before = self._io()
        started = self._clock.monotonic()
        try:
            yield
        finally:
            elapsed = self._clock.monotonic() - started
            self._spent["compute"] += max(0.0, elapsed - (self._io() - io_before))

    def ms(self) -> dict[str, int]:
        return {phase: round(seconds * 1000) for phase, seconds in self._spent.items()}

    def _io(self) -> float:
        return sum(s for p, s in self._spent.items() if p != "compute")
