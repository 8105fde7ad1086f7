"""Why a cancel found its order already gone (a 404). Pure.

Three classes, reported per cycle:

- ``fill_race``: nothing dora wrote or heard explains it: the order left the book (a fill, as a
  rule) after the listing dora acted on was taken. Expected under read lag.
- ``lost_answer``: dora had sent a cancel for this order whose answer was lost (an earlier attempt
  of the same request, or an earlier request); that cancel is what removed it. Expected when
  answers get lost.
- ``stale``: the exchange had already told dora the order was gone, and dora cancelled it again.
  A bookkeeping bug: it must stay at zero.

The history keeps what the exchange said about dora's cancels for a while (independently of the
read-lag overlay, whose job is to stop such cancels being sent at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dora.core.models import TsMs

HISTORY_MS = 30 * 60_000


class GoneClass(StrEnum):
    FILL_RACE = "fill_race"
    LOST_ANSWER = "lost_answer"
    STALE = "stale"


@dataclass
class CancelHistory:
    horizon_ms: int = HISTORY_MS
    gone: dict[str, TsMs] = field(default_factory=dict)  # order id -> when dora heard it was gone
    unanswered: dict[str, TsMs] = field(default_factory=dict)  # cancels whose answer was lost

    def record_gone(self, order_id: str, heard_ms: TsMs) -> None:
        self.gone.setdefault(order_id, heard_ms)
        self.unanswered.pop(order_id, None)

    def record_unanswered(self, order_id: str, sent_ms: TsMs) -> None:
        if order_id not in self.gone:
            self.unanswered[order_id] = sent_ms

    def classify(self, order_id: str, *, after_lost_answer: bool) -> GoneClass:
        """The class of a 404 on a cancel of ``order_id`` (call before recording it as gone)."""
        if order_id in self.gone:
            return GoneClass.STALE
        if after_lost_answer or order_id in self.unanswered:
            return GoneClass.LOST_ANSWER
        return GoneClass.FILL_RACE

    def prune(self, now_ms: TsMs) -> None:
        horizon = now_ms - self.horizon_ms
        self.gone = {k: ts for k, ts in self.gone.items() if ts >= horizon}
        self.unanswered = {k: ts for k, ts in self.unanswered.items() if ts >= horizon}
