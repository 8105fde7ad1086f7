"""Per-endpoint API cost counters, keyed ``"METHOD /template"`` (e.g. ``GET /portfolio/orders``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True, slots=True)
class EndpointStats:
    calls: int = 0
    tokens: int = 0  # tokens the exchange billed (429s are not billed)
    rate_limited: int = 0
    errors: int = 0  # every failed attempt: HTTP >= 400 other than 404, and network failures
    not_found: int = 0
    latency_ms_total: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} cannot be negative: {self}")

    def minus(self, earlier: EndpointStats) -> EndpointStats:
        return EndpointStats(
            **{f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)}
        )


class ApiStats:
    """Thread-safe running totals; read them with :meth:`snapshot`, diff them with :meth:`since`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: dict[str, EndpointStats] = {}

    def record(
        self, endpoint: str, *, tokens: int, latency_ms: int, rate_limited: bool = False,
        error: bool = False, not_found: bool = False,
    ) -> None:
        with self._lock:
            current = self._by_endpoint.get(endpoint, EndpointStats())
            self._by_endpoint[endpoint] = replace(
                current,
                calls=current.calls + 1,
                tokens=current.tokens + tokens,
                rate_limited=current.rate_limited + int(rate_limited),
                errors=current.errors + int(error),
                not_found=current.not_found + int(not_found),
                latency_ms_total=current.latency_ms_total + max(latency_ms, 0),
            )

    def snapshot(self) -> dict[str, EndpointStats]:
        with self._lock:
            return dict(self._by_endpoint)

    def since(self, earlier: dict[str, EndpointStats]) -> dict[str, EndpointStats]:
        """What happened after ``earlier`` (a snapshot); endpoints without new calls omitted."""
        deltas = {
            endpoint: now.minus(earlier.get(endpoint, EndpointStats()))
            for endpoint, now in self.snapshot().items()
        }
        return {endpoint: delta for endpoint, delta in deltas.items() if delta.calls}

    def totals(self) -> EndpointStats:
        total = EndpointStats()
        for stats in self.snapshot().values():
            total = EndpointStats(
                **{f.name: getattr(total, f.name) + getattr(stats, f.name) for f in fields(total)}
            )
        return total
