"""The AIMD rate budget: cut below a refused request, grow back slowly to the ceiling."""

from __future__ import annotations

from dora.core.rate_budget import FLOOR, RECOVERY_STEPS, AdaptiveBudget, Budget

CEILING = Budget(rate=100, capacity=200)


def test_a_refusal_halves_the_budget_below_the_refused_request_never_under_the_floor() -> None:
    budget = AdaptiveBudget.at(CEILING).after_refusal(cost=90)
    assert budget.current == Budget(rate=50, capacity=45) and budget.cuts == 1
    assert budget.reduced
    again = budget.after_refusal(cost=45)
    assert again.current.capacity < 45  # the refused size is never allowed again
    for _ in range(10):
        again = again.after_refusal(cost=again.current.capacity)
    assert again.current == FLOOR


def test_quiet_spells_grow_it_back_a_twentieth_of_the_ceiling_at_a_time() -> None:
    budget = AdaptiveBudget.at(CEILING).after_refusal(cost=200)
    grown = budget.after_quiet_spell()
    assert grown.current == Budget(50 + 100 // RECOVERY_STEPS, 100 + 200 // RECOVERY_STEPS)
    for _ in range(RECOVERY_STEPS):
        grown = grown.after_quiet_spell()
    assert grown.current == CEILING and not grown.reduced


def test_new_limits_start_afresh() -> None:
    budget = AdaptiveBudget.at(CEILING).after_refusal(cost=200)
    lower = Budget(rate=10, capacity=20)
    assert budget.with_ceiling(lower) == AdaptiveBudget(lower, lower)
