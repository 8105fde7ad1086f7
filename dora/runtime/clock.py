"""Time as a dependency. Nothing outside this module reads the wall clock or sleeps."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from dora.core.models import TsMs


class Clock(Protocol):
    def now_ms(self) -> TsMs:
        """Wall-clock Unix time in milliseconds."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards (for intervals)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_ms(self) -> TsMs:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; ``sleep`` advances it instantly. Thread-safe."""

    def __init__(self, start_ms: TsMs = 1_767_225_600_000) -> None:  # 2026-01-01T00:00:00Z
        self._now_ms = start_ms
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now_ms(self) -> TsMs:
        with self._lock:
            return self._now_ms

    def monotonic(self) -> float:
        with self._lock:
            return self._now_ms / 1000.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds > 0:
            self.advance_ms(round(seconds * 1000))

    def advance_ms(self, delta_ms: int) -> None:
        with self._lock:
            self._now_ms += delta_ms
