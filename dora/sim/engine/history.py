"""Timelines of snapshots, for reads "as of" a past moment (the read-lag knob).

A timeline holds (ts_ms, value) points in time order. The value at ``as_of`` is the last point
with ts <= as_of. Trimming keeps the newest point at or before the horizon, so any read at or
after the horizon stays exact; reads before it see the oldest retained state.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Generic, TypeVar

from dora.core.models import TsMs

T = TypeVar("T")


class Timeline(Generic[T]):
    __slots__ = ("_times", "_values")

    def __init__(self) -> None:
        self._times: list[TsMs] = []
        self._values: list[T] = []

    def record(self, ts_ms: TsMs, value: T) -> None:
        """Append a point; a point at the same time as the last one replaces it."""
        if self._times and ts_ms < self._times[-1]:
            raise ValueError(f"timeline point {ts_ms} is older than {self._times[-1]}")
        if self._times and self._times[-1] == ts_ms:
            self._values[-1] = value
            return
        self._times.append(ts_ms)
        self._values.append(value)

    def at(self, as_of_ms: TsMs | None) -> T | None:
        """The value as of ``as_of_ms`` (None = latest); None when nothing was recorded by then."""
        if not self._values:
            return None
        if as_of_ms is None:
            return self._values[-1]
        index = bisect_right(self._times, as_of_ms)
        if index == 0:
            return None
        return self._values[index - 1]

    def latest(self) -> T | None:
        return self._values[-1] if self._values else None

    def trim(self, horizon_ms: TsMs) -> None:
        """Drop points older than the newest one at or before ``horizon_ms``."""
        keep_from = bisect_right(self._times, horizon_ms) - 1
        if keep_from > 0:
            del self._times[:keep_from]
            del self._values[:keep_from]

    def __len__(self) -> int:
        return len(self._times)
