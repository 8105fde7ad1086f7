"""Whether the write bucket pays a full requote of every quoted market within one cycle."""

from __future__ import annotations

from dora.core.requote_budget import WriteBucket, budget_warning, full_requote_budget

BASIC = WriteBucket(capacity=95, rate=100)  # basic's 100-token bucket less dora's jitter reserve
LEVELS = {"A": 1, "B": 3, "C": 2}  # 2 + 6 + 4 orders


def test_a_requote_beyond_a_bucket_and_one_interval_does_not_fit_and_says_how_long_it_takes(
) -> None:
    budget = full_requote_budget(LEVELS, BASIC, create_cost=10, cancel_cost=2, interval_ms=0)
    assert (budget.markets, budget.orders, budget.tokens) == (3, 12, 144)
    assert budget.per_cycle == 95 and not budget.fits
    assert budget.wait_ms == 490  # (144 - 95) tokens at 100 a second
    assert budget.markets_that_fit == 2  # A (24) and C (48) fit in 95; B's 72 more do not
    text = budget_warning(budget, "basic", 0)
    assert "3 markets (12 orders) costs 144 write tokens" in text and "~0.5 s" in text
    assert "2 markets fit" in text


def test_one_loop_interval_of_refill_counts_and_exactly_enough_fits() -> None:
    budget = full_requote_budget(LEVELS, BASIC, create_cost=10, cancel_cost=2, interval_ms=490)
    assert budget.per_cycle == 144 and budget.fits and budget.markets_that_fit == 3
    assert not full_requote_budget(LEVELS, BASIC, create_cost=10, cancel_cost=2,
                                   interval_ms=489).fits


def test_no_markets_cost_nothing_and_a_zero_rate_is_not_a_division_by_zero() -> None:
    empty = full_requote_budget({}, BASIC, create_cost=10, cancel_cost=2, interval_ms=5000)
    assert empty.tokens == 0 and empty.fits and empty.markets_that_fit == 0
    stalled = full_requote_budget(LEVELS, WriteBucket(95, 0), create_cost=10, cancel_cost=2,
                                  interval_ms=5000)
    assert not stalled.fits and stalled.wait_ms == 49_000  # read as one token a second
