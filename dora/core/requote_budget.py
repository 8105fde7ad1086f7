"""Can the account's write tokens pay for a full requote of every quoted market? Pure.

A full requote (every market's quotes replaced at once, as after news that moves them all)
cancels each resting order and places its replacement: per order one cancel and one create, at
the per-item costs of the batch endpoints (docs/kalshi-notes.md#rate-limits). The write bucket
pays at most what it holds when the cycle starts plus what it refills during one loop interval;
a requote that costs more sends its batches in waves (:mod:`dora.exchange.orders`) for as long as
the refill needs, and creates still waiting once the cycle's plan is older than
``max_plan_age_ms`` are left to later cycles: the last markets are quoted that much later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequoteBudget:
    markets: int
    orders: int  # both sides of every level of every market
    tokens: int  # write tokens the requote costs
    per_cycle: int  # write tokens one cycle can spend: a full bucket and one interval's refill
    wait_ms: int  # how long the refill takes to pay what a full bucket does not hold
    markets_that_fit: int  # the most markets, smallest first, whose requote per_cycle pays

    @property
    def fits(self) -> bool:
        return self.tokens <= self.per_cycle


@dataclass(frozen=True, slots=True)
class WriteBucket:
    """This process's write bucket: what it holds when full, and its refill (tokens/s)."""

    capacity: int
    rate: int


def full_requote_budget(
    levels_by_market: Mapping[str, int], bucket: WriteBucket, *, create_cost: int,
    cancel_cost: int, interval_ms: int,
) -> RequoteBudget:
    """The budget of replacing every order of the markets (``levels`` a side each) from
    ``bucket``, a create and a cancel costing what the exchange bills per order."""
    per_order = create_cost + cancel_cost
    orders = [2 * levels for levels in levels_by_market.values()]
    tokens = sum(orders) * per_order
    rate = max(bucket.rate, 1)
    per_cycle = bucket.capacity + rate * interval_ms // 1000
    wait_ms = max(0, tokens - bucket.capacity) * 1000 // rate
    return RequoteBudget(len(orders), sum(orders), tokens, per_cycle, wait_ms,
                         _markets_that_fit(sorted(orders), per_order, per_cycle))


def _markets_that_fit(orders_ascending: list[int], per_order: int, per_cycle: int) -> int:
    spent = fitted = 0
    for orders in orders_ascending:
        spent += orders * per_order
        if spent > per_cycle:
            break
        fitted += 1
    return fitted


def budget_warning(budget: RequoteBudget, tier_name: str, interval_ms: int) -> str:
    """What an operator reads when the requote does not fit in a cycle."""
    return (f"a full requote of {budget.markets} markets ({budget.orders} orders) costs "
            f"{budget.tokens} write tokens; this process's share of the {tier_name} tier pays "
            f"{budget.per_cycle} in a {interval_ms / 1000:g} s loop interval (a full bucket and "
            f"its refill): such a requote takes ~{budget.wait_ms / 1000:.1f} s of writes, "
            f"spread over cycles by max_plan_age_ms, the last markets quoted that much later; "
            f"{budget.markets_that_fit} markets fit: quote fewer markets or levels, or raise "
            f"the account's tier")
