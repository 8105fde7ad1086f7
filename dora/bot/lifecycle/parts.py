"""What the lifecycle works with: the loop's own state and collaborators, and a step's result."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from dora.bot.execute import Executor
from dora.bot.persistence import Persister
from dora.bot.quoting import Quoter
from dora.bot.reconcile import Reconciler
from dora.bot.state import BotState
from dora.core.calibration import StepStatus
from dora.core.overlay import Overlay
from dora.exchange.client import KalshiClient
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event


@dataclass(frozen=True, slots=True)
class LifecycleParts:
    client: KalshiClient
    reconciler: Reconciler
    quoter: Quoter
    executor: Executor
    persister: Persister
    overlay: Overlay
    state: BotState
    clock: Clock
    log: logging.Logger
    id_prefix: str
    run_id: str


@dataclass
class Found:
    """What one calibration step found."""

    status: StepStatus
    summary: str
    details: list[tuple[str, str]] = field(default_factory=list)

    def warn(self, summary: str | None = None) -> Found:
        if self.status is StepStatus.OK:
            self.status = StepStatus.WARN
        if summary:
            self.summary = summary
        return self


Step = Callable[[], Found]


def log_drift(parts: LifecycleParts, kind: str, message: str, **fields: object) -> None:
    """One correction of dora's view: a DRIFT event with what it was, is and what was done."""
    parts.state.drift_corrections += 1
    log_event(parts.log, EventType.DRIFT, message, level=logging.WARNING, drift=kind, **fields)
