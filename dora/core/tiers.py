"""Kalshi's token-bucket rate-limit tiers and per-endpoint costs, as data
(docs/kalshi-notes.md#rate-limits).

Shared by the client's limiter (which waits) and the simulator (which answers 429). Paths are
templates relative to ``/trade-api/v2``. These are the defaults; at startup the account's real
limits (``GET /account/limits``) and costs (``GET /account/endpoint_costs``) replace them in the
client (:class:`CostTable`, :func:`tier_from_limits`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Bucket(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    read_rate: int  # tokens per second
    read_capacity: int
    write_rate: int
    write_capacity: int


def _tier(name: str, read: int, write: int, read_cap_s: int, write_cap_s: int) -> Tier:
    return Tier(name, read, read * read_cap_s, write, write * write_cap_s)


TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        _tier("basic", 200, 100, read_cap_s=2, write_cap_s=1),
        _tier("advanced", 300, 300, read_cap_s=2, write_cap_s=2),
        _tier("expert", 600, 600, read_cap_s=1, write_cap_s=2),
        _tier("premier", 1_000, 1_000, read_cap_s=1, write_cap_s=2),
        _tier("paragon", 2_000, 2_000, read_cap_s=1, write_cap_s=2),
        _tier("prime", 4_000, 4_000, read_cap_s=1, write_cap_s=2),
        _tier("prestige", 6_000, 8_000, read_cap_s=1, write_cap_s=2),
    )
}

DEFAULT_COST = 10


@dataclass(frozen=True, slots=True)
class EndpointCost:
    cost: int  # per request, or per item when ``per_item``
    per_item: bool = False


# (method, path template) -> cost; anything absent costs DEFAULT_COST per request.
ENDPOINT_COSTS: dict[tuple[str, str], EndpointCost] = {
    ("GET", "/portfolio/orders/{order_id}"): EndpointCost(2),
    ("DELETE", "/portfolio/events/orders/{order_id}"): EndpointCost(2),
    ("DELETE", "/portfolio/events/orders"): EndpointCost(2),
    ("POST", "/portfolio/events/orders/batched"): EndpointCost(10, per_item=True),
    ("DELETE", "/portfolio/events/orders/batched"): EndpointCost(2, per_item=True),
}

# Writes: order entry and order groups. Everything else is a read.
_WRITE_PREFIXES = ("/portfolio/events/orders", "/portfolio/orders", "/portfolio/order_groups")


def bucket_for(method: str, template: str) -> Bucket:
    if method != "GET" and template.startswith(_WRITE_PREFIXES):
        return Bucket.WRITE
    return Bucket.READ


def request_cost(method: str, template: str, items: int = 1) -> int:
    """Tokens one request costs; batch endpoints are billed per item."""
    entry = ENDPOINT_COSTS.get((method, template), EndpointCost(DEFAULT_COST))
    return entry.cost * max(items, 1) if entry.per_item else entry.cost


@dataclass(frozen=True, slots=True)
class CostTable:
    """Token costs per (method, path template): listed ones, else ``default_cost``."""

    default_cost: int = DEFAULT_COST
    costs: Mapping[tuple[str, str], EndpointCost] = field(
        default_factory=lambda: dict(ENDPOINT_COSTS))

    def cost(self, method: str, template: str, items: int = 1) -> int:
        entry = self.costs.get((method, template), EndpointCost(self.default_cost))
        return entry.cost * max(items, 1) if entry.per_item else entry.cost

    def differences(self, other: CostTable, known: Sequence[tuple[str, str]]) -> list[str]:
        """Where ``other`` prices one of the ``known`` endpoints differently, as text."""
        found = []
        for method, template in known:
            mine, theirs = self.cost(method, template), other.cost(method, template)
            if mine != theirs:
                found.append(f"{method} {template}: {mine} -> {theirs}")
        return found


_API_PREFIX = "/trade-api/v2"
_PARAMETER = re.compile(r"(?::([A-Za-z_]+))|(?:\{([A-Za-z_]+)\})")


def costs_from_exchange(default_cost: int, listed: Sequence[tuple[str, str, int]]) -> CostTable:
    """The exchange's list of (method, path, cost) -> a table. The list names only endpoints
    whose cost differs from the default. A path may carry the API prefix and write its
    parameters as ``{name}`` or ``:name`` (assumption: docs/kalshi-notes.md); an endpoint dora
    knows to be billed per item stays per item (at the listed cost, else the default)."""
    if default_cost <= 0:
        raise ValueError(f"default_cost must be positive, got {default_cost}")
    # Endpoints billed per item cost the default per item when the list leaves them out.
    costs = {key: EndpointCost(default_cost, per_item=True)
             for key, entry in ENDPOINT_COSTS.items() if entry.per_item}
    for method, path, cost in listed:
        if cost <= 0:
            raise ValueError(f"cost of {method} {path} must be positive, got {cost}")
        template = _template(path)
        per_item = ENDPOINT_COSTS.get((method.upper(), template), EndpointCost(0)).per_item
        costs[(method.upper(), template)] = EndpointCost(cost, per_item=per_item)
    return CostTable(default_cost, costs)


def _template(path: str) -> str:
    relative = path[len(_API_PREFIX):] if path.startswith(_API_PREFIX + "/") else path
    return _PARAMETER.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", relative)


def tier_from_limits(
    usage_tier: str, read_rate: int, read_capacity: int, write_rate: int, write_capacity: int
) -> Tier:
    """The account's real limits as a Tier (named after the exchange's ``usage_tier``)."""
    values = (read_rate, read_capacity, write_rate, write_capacity)
    if min(values) <= 0:
        raise ValueError(f"account limits must be positive, got {values}")
    return Tier(usage_tier or "account", read_rate, read_capacity, write_rate, write_capacity)


def tier_named(name: str) -> Tier:
    try:
        return TIERS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown tier {name!r}; choose one of: {', '.join(TIERS)}") from None
