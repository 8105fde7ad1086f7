"""Request counters the control surface exposes: by "METHOD /template", by status, cancel 404s;
and, for tests that judge a client by the exchange's own record, every cancel answer, the creates
whose answer was lost, the requests the fault knob refused, and a journal of when each API request
arrived and when its answer left, in the exchange's own order."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dora.core.models import TsMs

CANCEL_ANSWERS_KEPT = 100_000  # the newest; a long-running sim stays bounded
LOST_CREATES_KEPT = 100_000
JOURNAL_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One moment in an API request's life at the exchange: ``arrived`` (before it was handled)
    or ``answered`` (its answer left, after the latency knob's delay). ``request`` numbers the
    request; ``seq`` orders every entry."""

    seq: int
    request: int
    moment: str
    method: str
    template: str


@dataclass(frozen=True, slots=True)
class CancelAnswer:
    """One cancel the exchange processed: the order, what it answered ("cancelled" or the error
    code), and whether the caller got that answer (False when the answer was lost)."""

    order_id: str
    outcome: str
    delivered: bool
    ts_ms: TsMs


class RequestCounters:
    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._cancel_404 = 0
        self._cancel_answers: deque[CancelAnswer] = deque(maxlen=CANCEL_ANSWERS_KEPT)
        self._journal: deque[JournalEntry] = deque(maxlen=JOURNAL_KEPT)
        self._lost_creates: deque[tuple[str, TsMs]] = deque(maxlen=LOST_CREATES_KEPT)
        self._faults: deque[tuple[str, str, TsMs]] = deque(maxlen=JOURNAL_KEPT)
        self._seq = 0
        self._lock = threading.Lock()

    def journal(self, request: int | None, moment: str, method: str, template: str) -> int:
        """Record a moment of a request (``request`` None: a new one); its request number."""
        with self._lock:
            self._seq += 1
            number = self._seq if request is None else request
            self._journal.append(JournalEntry(self._seq, number, moment, method, template))
            return number

    def journal_entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._journal)

    def count_request(self, method: str, template: str) -> None:
        with self._lock:
            self._requests[f"{method} {template}"] += 1

    def count_status(self, status: int) -> None:
        with self._lock:
            self._statuses[str(status)] += 1

    def count_cancel_not_found(self, n: int = 1) -> None:
        with self._lock:
            self._cancel_404 += n

    def record_cancel_answers(self, answers: Iterable[CancelAnswer]) -> None:
        with self._lock:
            self._cancel_answers.extend(answers)

    def cancel_answers(self) -> list[CancelAnswer]:
        """The kept cancel answers, in the order the exchange gave them."""
        with self._lock:
            return list(self._cancel_answers)

    def record_lost_creates(self, order_ids: Iterable[str], ts_ms: TsMs) -> None:
        """Orders that rest although the caller never got the create's answer."""
        with self._lock:
            self._lost_creates.extend((order_id, ts_ms) for order_id in order_ids)

    def lost_creates(self) -> dict[str, TsMs]:
        """order id -> when the exchange created it and lost the answer."""
        with self._lock:
            return dict(self._lost_creates)

    def record_fault(self, method: str, template: str, ts_ms: TsMs) -> None:
        """A request refused by the fault knob with a 5xx before it did anything."""
        with self._lock:
            self._faults.append((method, template, ts_ms))

    def faults(self) -> list[tuple[str, str, TsMs]]:
        """(method, template, when) of every request the fault knob refused, oldest first."""
        with self._lock:
            return list(self._faults)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "status": dict(sorted(self._statuses.items())),
                "cancel_404": self._cancel_404,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._cancel_404 = 0
            self._cancel_answers.clear()
            self._journal.clear()
            self._lost_creates.clear()
            self._faults.clear()
