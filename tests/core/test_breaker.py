"""The per-market circuit breaker's state machine."""

from __future__ import annotations

from dora.core.breaker import (
    Attempt,
    Breaker,
    BreakerSettings,
    BreakerState,
    advance,
    counts_against_market,
    observe,
    operator_resets,
    reset,
)

SETTINGS = BreakerSettings(failures=3, cooloff_ms=1_000, cooloff_max_ms=3_000)
FAIL = Attempt(ok=False, reason="invalid_price")


def test_ordinary_outcomes_and_other_peoples_faults_never_count() -> None:
    for code in ("post_only_cross", "not_found", "rate_limited", "trading_is_paused",
                 "market_closed", "insufficient_balance", ""):
        assert not counts_against_market(code)
    assert counts_against_market("invalid_price")


def test_dora_s_own_gate_refusals_never_count_against_a_market() -> None:
    """An order its gate did not send (the lease, the group, a stop during a long phase) says
    nothing about the market: a stop in the middle of a requote must not count toward opening
    every market's breaker."""
    for code in ("lease_not_held", "order_group_closed", "stopping"):
        assert not counts_against_market(code)


def test_failures_in_a_row_open_it_and_a_success_in_between_starts_over() -> None:
    breaker = observe(Breaker(), [FAIL, FAIL, Attempt(ok=True), FAIL, FAIL], 0, SETTINGS)
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 2
    breaker = observe(breaker, [FAIL, FAIL], 10, SETTINGS)  # only the first one is seen
    assert breaker.state is BreakerState.OPEN and breaker.failures == 3
    assert breaker.open_until_ms == 10 + 1_000 and breaker.trips == 1
    assert breaker.reason == "invalid_price" and not breaker.allows_orders


def test_the_cool_off_doubles_per_trip_in_a_row_up_to_the_cap_then_half_open_decides() -> None:
    breaker = observe(Breaker(), [FAIL] * 3, 0, SETTINGS)
    assert advance(breaker, 999, SETTINGS).state is BreakerState.OPEN
    breaker = advance(breaker, 1_000, SETTINGS)
    assert breaker.state is BreakerState.HALF_OPEN and breaker.allows_orders
    breaker = observe(breaker, [FAIL], 1_000, SETTINGS)  # one failure on probation reopens it
    assert breaker.state is BreakerState.OPEN and breaker.open_until_ms == 1_000 + 2_000
    breaker = observe(advance(breaker, 3_000, SETTINGS), [FAIL], 3_000, SETTINGS)
    assert breaker.open_until_ms == 3_000 + 3_000  # 4 s capped at 3 s
    breaker = observe(advance(breaker, 6_000, SETTINGS), [Attempt(ok=True)], 6_000, SETTINGS)
    assert breaker.state is BreakerState.CLOSED and breaker.trips == 3
    assert advance(breaker, 6_000 + 2_999, SETTINGS).trips == 3
    assert advance(breaker, 6_000 + 3_000, SETTINGS).trips == 0  # forgiven


def test_an_operator_reset_closes_it_forgets_its_trips_and_is_found_as_newer() -> None:
    opened = observe(Breaker(), [FAIL] * 3, 0, SETTINGS)
    closed = reset(opened, 500)
    assert closed == Breaker(changed_ms=500, reset_ms=500)
    assert operator_resets({"A": opened, "B": closed}, {"A": closed, "B": closed}) == {"A": closed}
