"""Which markets dora can afford to quote, in a stated order."""

from __future__ import annotations

import pytest

from dora.core.cash_plan import effective_reserve, plan_cash

NEEDS = {"C": 30, "A": 50, "B": 30, "D": 80}


def test_smallest_first_takes_the_cheapest_markets_ties_by_ticker_and_skips_what_does_not_fit(
) -> None:
    plan = plan_cash(NEEDS, budget=100, priority="smallest_first")
    assert plan.affordable == ("B", "C") and plan.unaffordable == ("A", "D")
    assert plan.needed == 190 and not plan.sufficient
    assert plan_cash(NEEDS, budget=140, priority="smallest_first").affordable == ("B", "C", "A")


def test_ticker_order_skips_one_that_does_not_fit_and_tries_the_next() -> None:
    plan = plan_cash(NEEDS, budget=90, priority="ticker")
    assert plan.affordable == ("A", "B") and plan.unaffordable == ("C", "D")
    assert plan_cash(NEEDS, budget=190, priority="ticker").sufficient


def test_an_unknown_priority_and_a_reserve_above_the_account_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown cash priority"):
        plan_cash(NEEDS, 100, "richest_first")
    assert effective_reserve(5, 10) == (5, "")
    reserve, note = effective_reserve(20, 10)
    assert reserve == 0 and "above the account's value" in note
