"""Independent requests of one phase sent together (docs/architecture.md#the-loop).

The loop stays one synchronous cycle with strict phases; only inside a phase do requests that
need nothing from each other (the cycle's reads; its cancel batches; then its create batches) go
out at the same time, over the client's shared connection pool, each still waiting for its tokens
in the shared, thread-safe rate limiter. :meth:`Together.run` returns only once every call has
ended, so nothing of one phase runs into the next.

The pool is small and bounded (``width`` threads). A call made from inside one of its own threads
runs inline: a phase's call that itself fans out can never wait on a thread it is holding.
Each call runs in a copy of the caller's context, so log lines from the pool carry the same
context fields as the loop's own.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

T = TypeVar("T")
DEFAULT_WIDTH = 8


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one call of a group ended with: its value, or the exception it raised."""

    value: T | None = None
    error: BaseException | None = None

    def get(self) -> T:
        """The value; the call's own exception raised again when it failed."""
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


class Together:
    """A bounded thread pool for the independent calls of one phase."""

    def __init__(self, width: int = DEFAULT_WIDTH) -> None:
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width}")
        self.width = width
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._local = threading.local()  # .inside: this thread is one of the pool's

    def run(self, calls: Sequence[Callable[[], T]]) -> list[Outcome[T]]:
        """Every call's outcome, in the order given; returns when all have ended."""
        if len(calls) <= 1 or self._inside():
            return [_outcome(call) for call in calls]
        pool = self._started()
        futures: list[Future[Outcome[T]]] = [
            pool.submit(contextvars.copy_context().run, self._in_worker, call) for call in calls
        ]
        return [future.result() for future in futures]

    def all(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Every call's value in order; once all have ended, the first failure is raised."""
        return [outcome.get() for outcome in self.run(calls)]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _in_worker(self, call: Callable[[], T]) -> Outcome[T]:
        self._local.inside = True
        return _outcome(call)

    def _inside(self) -> bool:
        return bool(getattr(self._local, "inside", False))

    def _started(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.width,
                                                thread_name_prefix="dora-io")
            return self._pool


def chunks(values: Sequence[T], size: int) -> list[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size``: one request each."""
    return [values[start:start + size] for start in range(0, len(values), size)]


def _outcome(call: Callable[[], T]) -> Outcome[T]:
    try:
        return Outcome(value=call())
    except Exception as exc:  # handed back to the phase, which decides what it means
        return Outcome(error=exc)
