"""The bounded pool a phase's independent requests go out through."""

from __future__ import annotations

import contextvars
import threading

import pytest

from dora.exchange.parallel import Together

CONTEXT: contextvars.ContextVar[str] = contextvars.ContextVar("test_context", default="")


def test_outcomes_come_back_in_call_order_and_a_failure_is_held_not_raised() -> None:
    together = Together(4)
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "slow"

    def fast() -> str:
        release.set()  # the first call can only end after this one started
        return "fast"

    def failing() -> str:
        raise ValueError("boom")

    outcomes = together.run([slow, fast, failing])
    assert [o.value for o in outcomes[:2]] == ["slow", "fast"]
    assert isinstance(outcomes[2].error, ValueError)
    with pytest.raises(ValueError, match="boom"):
        outcomes[2].get()
    together.close()


def test_all_raises_the_first_failure_only_after_every_call_ended() -> None:
    together = Together(3)
    ended: list[str] = []
    started = threading.Barrier(3, timeout=5)

    def call(name: str, fails: bool) -> str:
        started.wait()  # all three run at once
        if fails:
            raise RuntimeError(name)
        ended.append(name)
        return name

    with pytest.raises(RuntimeError, match="first"):
        together.all([lambda: call("first", True), lambda: call("b", False),
                      lambda: call("c", False)])
    assert sorted(ended) == ["b", "c"]
    together.close()


def test_never_more_calls_at_once_than_its_width() -> None:
    together = Together(3)
    lock = threading.Lock()
    running = peak = 0
    gate = threading.Event()

    def call() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        gate.wait(0.05)
        with lock:
            running -= 1

    together.run([call] * 12)
    assert peak == 3
    together.close()


def test_a_call_inside_the_pool_that_fans_out_runs_its_calls_inline() -> None:
    """Otherwise a phase whose calls fan out could wait for threads it holds itself."""
    together = Together(1)

    def outer() -> list[str]:
        return together.all([lambda: threading.current_thread().name] * 2)

    first, second = together.all([outer, outer])  # one thread, held by each outer call
    assert first == second == [first[0]] * 2
    assert first[0].startswith("dora-io")
    together.close()


def test_calls_run_in_the_caller_s_context() -> None:
    """Log lines from the pool carry the loop's context fields."""
    together = Together(2)
    CONTEXT.set("cycle-7")
    assert together.all([CONTEXT.get, CONTEXT.get]) == ["cycle-7", "cycle-7"]
    together.close()
