"""The stop budget: unbounded until a stop, then measured from the request itself."""

from __future__ import annotations

import threading

import pytest

from dora.runtime.clock import FakeClock
from dora.runtime.deadline import EXIT_RESERVE_S, WIND_DOWN_S, StopBudget, StopSignal


def test_nothing_is_bounded_before_a_stop() -> None:
    budget = StopBudget(threading.Event(), FakeClock(), budget_s=25)
    assert budget.remaining() is None
    assert not budget.started


def test_the_budget_runs_from_the_signal_not_from_when_dora_noticed_it() -> None:
    clock = FakeClock()
    stop = StopSignal(clock)
    budget = StopBudget(stop, clock, budget_s=25)
    stop.set()
    clock.advance_ms(7_000)  # a call in flight when the signal came
    with budget.step(60):
        assert budget.remaining() == pytest.approx(25 - 7 - EXIT_RESERVE_S)
    assert budget.elapsed() == pytest.approx(7)


def test_a_plain_event_starts_the_budget_when_first_noticed() -> None:
    clock = FakeClock()
    stop = threading.Event()
    budget = StopBudget(stop, clock, budget_s=25)
    stop.set()
    clock.advance_ms(3_000)
    with budget.step(60):
        assert budget.remaining() == pytest.approx(25 - EXIT_RESERVE_S)


def test_before_the_shutdown_steps_the_work_in_progress_gets_only_a_wind_down() -> None:
    clock = FakeClock()
    stop = StopSignal(clock)
    budget = StopBudget(stop, clock, budget_s=25)
    stop.set()
    assert budget.remaining() == pytest.approx(WIND_DOWN_S)
    clock.advance_ms(5_000)
    assert budget.remaining() == 0.0
    with budget.step(60):  # the shutdown's steps still get the rest
        assert budget.remaining() == pytest.approx(25 - 5 - EXIT_RESERVE_S)


def test_a_step_is_capped_and_leaves_time_for_the_steps_after_it() -> None:
    clock = FakeClock()
    budget = StopBudget(threading.Event(), clock, budget_s=25)
    budget.begin()
    usable = 25 - EXIT_RESERVE_S
    with budget.step(5):
        assert budget.remaining() == pytest.approx(5)
    with budget.step(60, leave_s=10):
        assert budget.remaining() == pytest.approx(usable - 10)
        with budget.step(60, leave_s=usable):
            assert budget.remaining() == 0.0
    clock.advance_ms(30_000)
    assert budget.remaining() == 0.0


def test_a_signal_repeated_keeps_the_first_request_time() -> None:
    clock = FakeClock()
    stop = StopSignal(clock)
    stop.set()
    first = stop.requested_at
    clock.advance_ms(1_000)
    stop.set()
    assert stop.requested_at == first and stop.is_set()


def test_a_budget_must_cover_the_exit_reserve() -> None:
    with pytest.raises(ValueError):
        StopBudget(threading.Event(), FakeClock(), budget_s=EXIT_RESERVE_S)
