"""The log tables written off the loop's critical path (docs/architecture.md#records).

Execution events and decision records are built on the loop's thread (keyed and dated there; their
values are encoded for DynamoDB on the writer's thread) and handed to :class:`BackgroundLogWriter`,
whose one thread writes them in batches of up to 25 (BatchWriteItem), oldest first. The loop never
waits for it: :meth:`BackgroundLogWriter.submit` returns at once, and when the backlog is full
(DynamoDB stalled for long) what does not fit is dropped and counted, never waited for. A failed
write is sent again after a pause that grows up to a few seconds; DynamoDB's unprocessed items go
back to the head of the queue; a batch DynamoDB refuses as malformed, or one whose write raised
something unexpected (a bug: sending it again would fail again), is dropped and counted, and the
thread goes on.
:meth:`BackgroundLogWriter.flush` waits (bounded) for the backlog to drain: the bot calls it on a
halt and in its shutdown, within the stop budget.

Not here: trade-log rows and state items, which the loop writes itself, in order (the trade-log
rows of every fill before the state snapshot that counts it; see dora/bot/persistence.py). A kill
-9 loses at most the backlog: log rows only.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dora.core.errors import DoraError
from dora.runtime.logs import EventType, log_event
from dora.store.store import LOG_BATCH_ITEMS, LogItemsRefused

DEFAULT_CAPACITY = 20_000  # items waiting, at most (a few MB)
RETRY_PAUSES_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)

# (table base name, items) -> the items DynamoDB left unprocessed
LogSink = Callable[[str, Sequence[Mapping[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class LogWriterStats:
    backlog: int  # items waiting or being written
    dropped: int  # items given up on since the start (backlog full, or refused)
    written: int
    failed_writes: int  # write attempts that failed (each is tried again)


class BackgroundLogWriter:
    def __init__(
        self, sink: LogSink, logger: logging.Logger, *, capacity: int = DEFAULT_CAPACITY,
        batch_items: int = LOG_BATCH_ITEMS,
    ) -> None:
        if capacity < 1 or not 1 <= batch_items <= LOG_BATCH_ITEMS:
            raise ValueError(f"capacity >= 1 and 1 <= batch_items <= {LOG_BATCH_ITEMS} needed")
        self._sink = sink
        self._log = logger
        self._capacity = capacity
        self._batch_items = batch_items
        self._queue: deque[tuple[str, Mapping[str, Any]]] = deque()
        self._in_flight = 0
        self._dropped = self._written = self._failed = 0
        self._changed = threading.Condition()
        self._closing = False
        self._full = False  # rows were dropped since the backlog last drained (reported once)
        self._thread: threading.Thread | None = None

    def submit(self, table: str, items: Sequence[Mapping[str, Any]]) -> int:
        """Queue ``items`` for ``table``; never waits. Returns how many were dropped because
        the backlog is full."""
        if not items:
            return 0
        with self._changed:
            room = 0 if self._closing else self._capacity - len(self._queue) - self._in_flight
            kept = items[:max(room, 0)]
            self._queue.extend((table, item) for item in kept)
            dropped = len(items) - len(kept)
            self._dropped += dropped
            report = dropped > 0 and not self._full
            self._full = self._full or dropped > 0
            if kept:
                self._start()
                self._changed.notify_all()
        if report:
            log_event(self._log, EventType.ERROR,
                      "log-table backlog full: rows dropped until it drains",
                      level=logging.ERROR, table=table, dropped=dropped,
                      capacity=self._capacity, closed=self._closing)
        return dropped

    def flush(self, timeout_s: float | None) -> bool:
        """Wait until everything queued so far is written (or given up on); False when
        ``timeout_s`` passed first."""
        with self._changed:
            return self._changed.wait_for(self._drained, timeout=timeout_s)

    def close(self, timeout_s: float | None) -> int:
        """Flush for at most ``timeout_s``, then stop the writer. Returns the items left
        unwritten (counted as dropped)."""
        self.flush(timeout_s)
        with self._changed:
            self._closing = True
            left = len(self._queue) + self._in_flight
            self._dropped += len(self._queue)
            self._queue.clear()
            self._changed.notify_all()
        return left

    def stats(self) -> LogWriterStats:
        with self._changed:
            return LogWriterStats(len(self._queue) + self._in_flight, self._dropped,
                                  self._written, self._failed)

    # -- the writer's thread ----------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dora-log-writer",
                                            daemon=True)
            self._thread.start()

    def _drained(self) -> bool:
        return not self._queue and not self._in_flight

    def _run(self) -> None:
        failures = 0
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            table, items = batch
            failures = self._write(table, items, failures)
            if failures:
                self._pause(RETRY_PAUSES_S[min(failures, len(RETRY_PAUSES_S)) - 1])

    def _next_batch(self) -> tuple[str, list[Mapping[str, Any]]] | None:
        """The oldest items of one table (up to a batch); None once closing."""
        with self._changed:
            self._changed.wait_for(lambda: self._queue or self._closing)
            if self._closing:
                return None
            table = self._queue[0][0]
            items: list[Mapping[str, Any]] = []
            while self._queue and self._queue[0][0] == table and len(items) < self._batch_items:
                items.append(self._queue.popleft()[1])
            self._in_flight = len(items)
            return table, items

    def _write(self, table: str, items: list[Mapping[str, Any]], failures: int) -> int:
        """Send one batch; what is left over goes back to the head. The failures in a row."""
        try:
            unprocessed: Sequence[Mapping[str, Any]] = self._sink(table, items)
        except LogItemsRefused as exc:
            self._settle(table, written=0, dropped=len(items), again=())
            log_event(self._log, EventType.ERROR, f"log-table rows refused: {exc}",
                      level=logging.ERROR, table=table, dropped=len(items))
            return 0
        except DoraError as exc:
            self._settle(table, written=0, dropped=0, again=items, failed=True)
            if failures == 0:
                log_event(self._log, EventType.ERROR, f"log-table write failed: {exc}",
                          level=logging.WARNING, table=table, backlog=self.stats().backlog)
            return failures + 1
        except Exception as exc:  # a bug must not stop the thread for good
            self._settle(table, written=0, dropped=len(items), again=(), failed=True)
            log_event(self._log, EventType.ERROR,
                      f"log-table write failed unexpectedly, rows dropped: {exc!r}",
                      level=logging.ERROR, table=table, dropped=len(items))
            return failures + 1
        self._settle(table, written=len(items) - len(unprocessed), dropped=0, again=unprocessed)
        return failures + 1 if unprocessed else 0

    def _settle(
        self, table: str, *, written: int, dropped: int, again: Sequence[Mapping[str, Any]],
        failed: bool = False,
    ) -> None:
        with self._changed:
            if self._closing:  # nobody will send them again
                dropped += len(again)
            else:
                self._queue.extendleft((table, item) for item in reversed(again))
            self._full = self._full and bool(self._queue)
            self._in_flight = 0
            self._written += written
            self._dropped += dropped
            self._failed += int(failed)
            self._changed.notify_all()

    def _pause(self, seconds: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._closing, timeout=seconds)
