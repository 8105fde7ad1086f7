"""What every route handler gets: the engine behind its lock, the clock, knobs and counters,
plus the route table types."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dora.core.models import TsMs
from dora.runtime.clock import Clock
from dora.sim.engine.engine import Engine
from dora.sim.http.auth import KeyRegistry
from dora.sim.http.counters import RequestCounters
from dora.sim.http.http_types import Request, Response
from dora.sim.http.knobs import Knobs
from dora.sim.http.limits import ServerLimiter


@dataclass(frozen=True, slots=True)
class SimContext:
    engine: Engine
    lock: threading.RLock  # held around every engine call (the engine is not thread-safe)
    clock: Clock
    knobs: Knobs
    counters: RequestCounters
    registry: KeyRegistry
    limiter: ServerLimiter

    def now_ms(self) -> TsMs:
        return self.clock.now_ms()

    def as_of_ms(self) -> TsMs | None:
        """The instant user-data reads reflect: ``lag_ms`` ago, or None for "now"."""
        lag = self.knobs.values.lag_ms
        return None if lag <= 0 else self.clock.now_ms() - lag

    def user_data_as_of_ms(self) -> TsMs:
        return self.clock.now_ms() - self.knobs.values.lag_ms

    def tick(self) -> None:
        """Bring the engine up to now (outside flow, expiries) and end a timed pause window.

        Call with ``lock`` held.
        """
        if self.knobs.pause_window_over(self.clock.now_ms()):
            self.engine.set_trading_active(True)
        self.engine.advance()


class RouteKind(StrEnum):
    PUBLIC = "public"  # market data: no authentication
    USER_READ = "user_read"  # authenticated read
    WRITE = "write"  # authenticated write: subject to "applied but response lost"


Handler = Callable[[SimContext, Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str  # relative to the API prefix; "{name}" segments capture one path segment
    handler: Handler
    kind: RouteKind
    batch: bool = False  # billed per item of the body's "orders" list

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    """Exact-segment matching; a literal segment beats a "{param}" one."""

    def __init__(self, routes: Sequence[Route]) -> None:
        def specificity(route: Route) -> int:
            return -sum(not s.startswith("{") for s in route.segments)

        self._routes = sorted(routes, key=specificity)

    def match(self, method: str, path: str) -> Match | None:
        parts = tuple(path.strip("/").split("/"))
        for route in self._routes:
            if route.method != method:
                continue
            params = _bind(route.segments, parts)
            if params is not None:
                return Match(route, params)
        return None

    def allows_other_method(self, path: str) -> bool:
        parts = tuple(path.strip("/").split("/"))
        return any(_bind(route.segments, parts) is not None for route in self._routes)


def _bind(pattern: tuple[str, ...], parts: tuple[str, ...]) -> dict[str, str] | None:
    if len(pattern) != len(parts):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, parts, strict=True):
        if want.startswith("{"):
            if not got:
                return None
            params[want[1:-1]] = got
        elif want != got:
            return None
    return params
