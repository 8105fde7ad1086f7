"""Order groups: a cap on contracts matched across the group in a rolling 15 s window."""

from __future__ import annotations

from collections import deque

from dora.core.models import TsMs
from dora.core.units import Count
from dora.sim.engine.records import SimGroup

GROUP_WINDOW_MS = 15_000


class OrderGroup:
    __slots__ = ("contracts_limit", "group_id", "order_ids", "triggered", "user_id", "window")

    def __init__(self, group_id: str, user_id: str, contracts_limit: Count) -> None:
        self.group_id = group_id
        self.user_id = user_id
        self.contracts_limit = contracts_limit
        self.triggered = False
        self.window: deque[tuple[TsMs, Count]] = deque()
        self.order_ids: dict[str, None] = {}  # resting orders in the group, in arrival order

    def matched_in_window(self, now_ms: TsMs) -> Count:
        while self.window and self.window[0][0] <= now_ms - GROUP_WINDOW_MS:
            self.window.popleft()
        return sum(count for _, count in self.window)

    def record_match(self, now_ms: TsMs, count: Count) -> bool:
        """Add a match; True when the window has now reached the limit."""
        self.window.append((now_ms, count))
        return self.matched_in_window(now_ms) >= self.contracts_limit

    def reset(self) -> None:
        self.window.clear()
        self.triggered = False

    def snapshot(self) -> SimGroup:
        return SimGroup(
            group_id=self.group_id, contracts_limit=self.contracts_limit,
            auto_cancel_enabled=True, order_ids=tuple(self.order_ids),
            triggered=self.triggered,
        )
