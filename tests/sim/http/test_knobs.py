from __future__ import annotations

from fractions import Fraction

import pytest

from dora.sim.http.knobs import Knobs, KnobValues, LostMode


def draws(knobs: Knobs, n: int) -> list[bool]:
    return [knobs.draw_fault() for _ in range(n)]


def test_fault_draws_repeat_with_the_same_seed() -> None:
    values = KnobValues(fault_rate=Fraction(1, 3))
    first, second = draws(Knobs(values, seed=5), 300), draws(Knobs(values, seed=5), 300)
    assert first == second
    assert 60 < sum(first) < 140  # roughly a third; the seed fixes the exact count


def test_zero_and_one_rates_are_exact() -> None:
    assert not any(draws(Knobs(KnobValues(), seed=1), 100))
    assert all(draws(Knobs(KnobValues(fault_rate=Fraction(1)), seed=1), 100))


def test_lost_response_mode() -> None:
    knobs = Knobs(KnobValues(lost_response_rate=Fraction(1), lost_response_mode=LostMode.DROP))
    assert knobs.draw_lost_response() is LostMode.DROP
    knobs.update(lost_response_mode=LostMode.MIXED)
    modes = {knobs.draw_lost_response() for _ in range(50)}
    assert modes == {LostMode.DROP, LostMode.SERVICE_UNAVAILABLE}
    knobs.update(lost_response_rate=Fraction(0))
    assert knobs.draw_lost_response() is None


@pytest.mark.parametrize("change", [{"fault_rate": Fraction(3, 2)}, {"lag_ms": -1}])
def test_invalid_knob_values_are_refused(change: dict[str, object]) -> None:
    knobs = Knobs(KnobValues())
    with pytest.raises(ValueError):
        knobs.update(**change)
    assert knobs.values == KnobValues()


def test_pause_window_ends_once() -> None:
    knobs = Knobs(KnobValues())
    knobs.start_pause(until_ms=1000)
    assert not knobs.pause_window_over(999)
    assert knobs.pause_window_over(1000)
    assert not knobs.pause_window_over(2000)
