"""Kalshi's token-bucket rate-limit tiers and per-endpoint costs, as data
(docs/kalshi-notes.md#rate-limits).

Shared by the client's limiter (which waits) and the simulator (which answers 429). Paths are
templates relative to ``/trade-api/v2``. Change the numbers here when Kalshi's
``GET /account/endpoint_costs`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def tier_named(name: str) -> Tier:
    try:
        return TIERS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown tier {name!r}; choose one of: {', '.join(TIERS)}") from None
