"""Realism knobs, all off by default: response latency, user-data read lag, random 5xx faults,
"applied but response lost" writes, timed trading pause windows, and an exchange without
expiry-only amends. Random draws come from seeded generators so a run repeats exactly."""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from dora.core.models import TsMs

_DRAW_RESOLUTION = 1_000_000


class LostMode(StrEnum):
    SERVICE_UNAVAILABLE = "503"  # answer 503 after applying
    DROP = "drop"  # close the connection without answering
    MIXED = "mixed"  # either, drawn per event


class AmendExpiry(StrEnum):
    """Whether amend may move an order's expiry (an exchange that does not support it)."""

    SUPPORTED = "supported"
    REFUSED = "refused"  # an amend carrying expiration_time: 400 invalid_parameters
    NO_ENDPOINT = "no_endpoint"  # every amend: 404, as an unknown path


@dataclass(frozen=True, slots=True)
class KnobValues:
    latency_ms: int = 0
    lag_ms: int = 0
    fault_rate: Fraction = Fraction(0)
    lost_response_rate: Fraction = Fraction(0)
    lost_response_mode: LostMode = LostMode.MIXED
    flow: bool = True
    amend_expiry: AmendExpiry = AmendExpiry.SUPPORTED

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.lag_ms < 0:
            raise ValueError("latency_ms and lag_ms must not be negative")
        for name in ("fault_rate", "lost_response_rate"):
            rate = getattr(self, name)
            if not isinstance(rate, Fraction) or not 0 <= rate <= 1:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {rate!r}")

    def as_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "lag_ms": self.lag_ms,
            "fault_rate": _fraction_text(self.fault_rate),
            "lost_response_rate": _fraction_text(self.lost_response_rate),
            "lost_response_mode": self.lost_response_mode.value,
            "flow": self.flow,
            "amend_expiry": self.amend_expiry.value,
        }


def _fraction_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


class Knobs:
    """Current knob values plus the seeded draws that act on them. Thread-safe."""

    def __init__(self, values: KnobValues, seed: int = 0) -> None:
        self._values = values
        self._fault_rng = random.Random(f"fault-{seed}")
        self._lost_rng = random.Random(f"lost-{seed}")
        self._pause_until_ms: TsMs | None = None
        self._lock = threading.Lock()

    @property
    def values(self) -> KnobValues:
        with self._lock:
            return self._values

    def update(self, **changes: Any) -> KnobValues:
        """Replace some values (validated as a whole); unknown names raise ``TypeError``."""
        with self._lock:
            self._values = dataclasses.replace(self._values, **changes)
            return self._values

    def draw_fault(self) -> bool:
        """Should this request fail with a 5xx before doing anything?"""
        with self._lock:
            return _draw(self._fault_rng, self._values.fault_rate)

    def draw_lost_response(self) -> LostMode | None:
        """For an applied write: None to answer normally, else how the answer is lost."""
        with self._lock:
            if not _draw(self._lost_rng, self._values.lost_response_rate):
                return None
            mode = self._values.lost_response_mode
            if mode is LostMode.MIXED:
                drop = self._lost_rng.randrange(2) == 1
                return LostMode.DROP if drop else LostMode.SERVICE_UNAVAILABLE
            return mode

    def start_pause(self, until_ms: TsMs | None) -> None:
        """Remember when a timed pause window ends (None: paused until told otherwise)."""
        with self._lock:
            self._pause_until_ms = until_ms

    @property
    def pause_until_ms(self) -> TsMs | None:
        with self._lock:
            return self._pause_until_ms

    def pause_window_over(self, now_ms: TsMs) -> bool:
        """True once, when a timed pause window has just ended."""
        with self._lock:
            if self._pause_until_ms is None or now_ms < self._pause_until_ms:
                return False
            self._pause_until_ms = None
            return True


def _draw(rng: random.Random, rate: Fraction) -> bool:
    if rate <= 0:
        return False
    return Fraction(rng.randrange(_DRAW_RESOLUTION), _DRAW_RESOLUTION) < rate
