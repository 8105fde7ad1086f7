"""Request counters the control surface exposes: by "METHOD /template", by status, cancel 404s."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestCounters:
    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._cancel_404 = 0
        self._lock = threading.Lock()

    def count_request(self, method: str, template: str) -> None:
        with self._lock:
            self._requests[f"{method} {template}"] += 1

    def count_status(self, status: int) -> None:
        with self._lock:
            self._statuses[str(status)] += 1

    def count_cancel_not_found(self, n: int = 1) -> None:
        with self._lock:
            self._cancel_404 += n

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
