"""A calibration report: named steps, each ok / warn / fail with its duration and details. Pure.

The loop runs the steps at startup and some of them again every ``recalibrate_every_s``
(:mod:`dora.bot.lifecycle`); ``dora calibrate`` runs them read-only. Details are display-ready
(name, value) pairs, in order; a name may repeat (one line per non-viable market).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dora.core.models import TsMs

# The steps, in the order they run (the recalibration re-runs the middle three).
EXCHANGE = "exchange"
STATE_SYNC = "state_sync"
MARKETS = "markets"
PORTFOLIO = "portfolio"
CASH = "cash"
SESSION = "session"
STEP_NAMES = (EXCHANGE, STATE_SYNC, MARKETS, PORTFOLIO, CASH, SESSION)
RECALIBRATED = (MARKETS, PORTFOLIO, CASH)
MAX_DETAILS = 60  # lines kept per step: the report is saved in one DynamoDB item


class StepStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return (StepStatus.OK, StepStatus.WARN, StepStatus.FAIL).index(self)


@dataclass(frozen=True, slots=True)
class CalibrationStep:
    name: str
    status: StepStatus
    duration_ms: int
    summary: str  # one line: what was found
    details: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.duration_ms < 0:
            raise ValueError(f"step {self.name}: duration must not be negative")


def capped(details: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """At most :data:`MAX_DETAILS` lines, the last one saying how many were left out."""
    if len(details) <= MAX_DETAILS:
        return tuple(details)
    kept = details[:MAX_DETAILS - 1]
    return (*kept, ("...", f"{len(details) - len(kept)} more not shown"))


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    taken_ms: TsMs
    kind: str  # startup | recalibration | preflight
    steps: tuple[CalibrationStep, ...]

    @property
    def status(self) -> StepStatus:
        return max((s.status for s in self.steps), key=lambda s: s.rank, default=StepStatus.OK)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if s.status is StepStatus.FAIL)

    def step(self, name: str) -> CalibrationStep | None:
        return next((s for s in self.steps if s.name == name), None)

    def merged(self, newer: CalibrationReport) -> CalibrationReport:
        """This report with ``newer``'s steps in place of its own of the same name."""
        replaced = {s.name: s for s in newer.steps}
        steps = [replaced.pop(s.name, s) for s in self.steps]
        return CalibrationReport(newer.taken_ms, newer.kind, (*steps, *replaced.values()))

    def rows(self) -> tuple[tuple[str, str], ...]:
        """One (step, "status - summary") line per step: the status page's table."""
        return tuple((s.name, f"{s.status.value} - {s.summary}") for s in self.steps)
