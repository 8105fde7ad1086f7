"""The liveness file: the loop rewrites it after every cycle (and every few seconds inside a long
cancel or places phase, between its order writes), ``dora health`` reads it.

The container's health check runs ``dora health``; a bot whose loop is stuck (a hung call, a
deadlock) stops rewriting the file and the check fails after ``max_age_s`` even though the process
is still alive. The file holds one JSON object: the time the loop last showed progress on the
bot's clock, the cycle number (the one under way, inside a phase), the run id and whether trading
is halted (a halted bot is still healthy: the halt alarm reports it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dora.core.models import TsMs

HEARTBEAT_FILE_ENV = "DORA_HEARTBEAT_FILE"
DEFAULT_HEARTBEAT_FILE = ".dora-local/heartbeat.json"
DEFAULT_MAX_AGE_S = 60.0


class HeartbeatUnreadable(Exception):
    """No heartbeat file, or one that is not dora's."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    ts_ms: TsMs
    cycle: int
    run_id: str
    halted: bool


def heartbeat_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(HEARTBEAT_FILE_ENV) or DEFAULT_HEARTBEAT_FILE)


def write_heartbeat(path: Path, beat: Heartbeat) -> None:
    """Atomically (write a sibling, then rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps({"ts_ms": beat.ts_ms, "cycle": beat.cycle,
                                   "run_id": beat.run_id, "halted": beat.halted}))
    os.replace(partial, path)


def read_heartbeat(path: Path) -> Heartbeat:
    try:
        data = json.loads(path.read_text())
        return Heartbeat(ts_ms=int(data["ts_ms"]), cycle=int(data["cycle"]),
                         run_id=str(data["run_id"]), halted=bool(data["halted"]))
    except FileNotFoundError:
        raise HeartbeatUnreadable(f"no heartbeat file at {path}: no cycle has finished") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HeartbeatUnreadable(f"heartbeat file {path} is unreadable: {exc}") from None
