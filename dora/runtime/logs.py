"""JSON logs on stdout (python-json-logger), one object per line, CloudWatch-friendly.

Every line: ``ts`` (UTC ISO, ms), ``level``, ``service``, ``env``, ``bot_version``, ``bot_run_id``,
``message``, ``event_type`` (``LOG`` unless given), ``logger``; ``decision_id`` and ``market`` when
set (by :func:`log_context` or as fields); any extra fields; on exceptions ``error_type``,
``error_msg`` and ``stack``. Secrets are masked before a line is written.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from importlib import metadata
from types import MappingProxyType
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from dora.runtime.clock import Clock


class EventType(StrEnum):
    STARTUP = "STARTUP"
    CONFIG = "CONFIG"
    SHUTDOWN = "SHUTDOWN"
    HEARTBEAT = "HEARTBEAT"
    CONFIG_REFRESH = "CONFIG_REFRESH"
    MODE_SWITCH = "MODE_SWITCH"
    DECISION_MADE = "DECISION_MADE"
    ORDER_PLACED = "ORDER_PLACED"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ORDER_RESULT = "ORDER_RESULT"
    FILL = "FILL"
    RISK_HALT = "RISK_HALT"
    RISK_RESUME = "RISK_RESUME"
    RISK_BLOCKED = "RISK_BLOCKED"  # one order refused by the risk check (not a halt)
    STATE_SAVE = "STATE_SAVE"
    STATE_LOAD = "STATE_LOAD"
    DRIFT = "DRIFT"
    ERROR = "ERROR"
    BATCH_CANCEL = "BATCH_CANCEL"
    BATCH_CANCEL_FAILED = "BATCH_CANCEL_FAILED"
    BATCH_CANCEL_SUMMARY = "BATCH_CANCEL_SUMMARY"
    BATCH_PLACE = "BATCH_PLACE"
    BATCH_PLACE_FAILED = "BATCH_PLACE_FAILED"
    BATCH_PLACE_SUMMARY = "BATCH_PLACE_SUMMARY"
    RATE_LIMIT = "RATE_LIMIT"
    RATE_LIMIT_BACKOFF = "RATE_LIMIT_BACKOFF"
    RETRY = "RETRY"
    CYCLE_SUMMARY = "CYCLE_SUMMARY"
    METRICS = "METRICS"
    LOG = "LOG"
    FLAG = "FLAG"
    ORDER_PLACE = "ORDER_PLACE"
    ORDER_CANCEL = "ORDER_CANCEL"
    # per-market mode's failures (batch mode's are BATCH_PLACE_FAILED / BATCH_CANCEL_FAILED)
    ORDER_PLACE_FAILED = "ORDER_PLACE_FAILED"
    ORDER_CANCEL_FAILED = "ORDER_CANCEL_FAILED"
    ORDER_DECREASE_FAILED = "ORDER_DECREASE_FAILED"
    LEASE = "LEASE"  # acquired, renewed_late, lost, released, waiting (docs/architecture.md#lease)
    ORDER_GROUP = "ORDER_GROUP"  # created, triggered by dora, reset, deleted
    ORDER_GROUP_TRIGGERED = "ORDER_GROUP_TRIGGERED"  # the exchange's limit was hit
    POSITION_CLOSE = "POSITION_CLOSE"
    # the trader's lifecycle (dora/bot/lifecycle): calibration steps, breaker changes, the
    # exchange's trading status (DRIFT, above, reports each correction of dora's view)
    CALIBRATION = "CALIBRATION"
    BREAKER = "BREAKER"
    EXCHANGE_STATUS = "EXCHANGE_STATUS"
    # expiry renewal (dora.core.renewal): one line per renewal sent, one when it is turned off
    ORDER_RENEWED = "ORDER_RENEWED"
    ORDER_RENEW_FAILED = "ORDER_RENEW_FAILED"
    RENEWAL_OFF = "RENEWAL_OFF"


REDACTED = "[REDACTED]"
SECRET_KEY = re.compile(r"private_key|secret|signature|authorization|^kalshi-access-", re.I)
PEM_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S
)
HEADER_IN_TEXT = re.compile(r"(KALSHI-ACCESS-[A-Z]+['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", re.I)
EMF_KEY = "_aws"  # an embedded-metric-format directive (dora/bot/metrics.py) passes through
CORE_FIELDS = ("ts", "level", "service", "env", "bot_version", "bot_run_id", "message",
               "event_type", "logger")
_SKIPPED_RECORD_ATTRS = frozenset(RESERVED_ATTRS) | {"message", "asctime", "taskName"}
_HANDLER_MARK = "_dora_json_handler"

_context: ContextVar[Mapping[str, Any]] = ContextVar(
    "dora_log_context", default=MappingProxyType({})
)


# every text either pattern above can change contains one of these (one search per text on the
# common path instead of two substitutions: a per-order log line has a dozen texts)
_MAYBE_SECRET = re.compile(r"PRIVATE KEY|KALSHI-ACCESS-", re.I)


def redact_text(text: str) -> str:
    if _MAYBE_SECRET.search(text) is None:
        return text
    return HEADER_IN_TEXT.sub(rf"\1{REDACTED}", PEM_BLOCK.sub(REDACTED, text))


_PLAIN_SCALARS = frozenset({int, bool, float, Decimal, type(None)})


@lru_cache(maxsize=4096)
def _secret_named(key: str) -> bool:
    return SECRET_KEY.search(key) is not None


def redact(value: Any, key: str = "") -> Any:
    """Mask secret-named keys and private-key blocks anywhere in a log value."""
    if key and _secret_named(key):
        return REDACTED
    kind = type(value)
    if kind is str:
        return redact_text(value)
    if kind in _PLAIN_SCALARS:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    """Decimal and Fraction print exactly; anything else unknown to JSON prints as str()."""
    return str(value)


def _iso_from_epoch_s(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DoraJsonFormatter(JsonFormatter):
    def __init__(self, static_fields: Mapping[str, str]) -> None:
        super().__init__(json_default=_json_default, json_ensure_ascii=False)
        self._dora_static = dict(static_fields)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        extras = {k: v for k, v in record.__dict__.items()
                  if k not in _SKIPPED_RECORD_ATTRS and (k == EMF_KEY or not k.startswith("_"))}
        log_data["ts"] = _iso_from_epoch_s(record.created)
        log_data["level"] = record.levelname
        log_data.update(self._dora_static)
        log_data["message"] = record.getMessage()
        log_data["event_type"] = str(extras.pop("event_type", EventType.LOG))
        log_data["logger"] = record.name
        log_data.update({k: v for k, v in _context.get().items() if v is not None})
        log_data.update({k: v for k, v in extras.items() if k not in CORE_FIELDS})
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            log_data["error_type"] = type(error).__name__
            log_data["error_msg"] = str(error)
            log_data["stack"] = "".join(traceback.format_exception(error))
        elif record.stack_info:
            log_data["stack"] = record.stack_info

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: redact(v, k) for k, v in log_data.items()}


def setup_logging(
    *, service: str, env: str, run_id: str, version: str, stream: TextIO | None = None,
    level: int = logging.INFO,
) -> None:
    """Route every logger through one JSON handler on the root logger. Calling it again replaces
    that handler (so lines are never duplicated) and leaves other handlers alone."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(DoraJsonFormatter(
        {"service": service, "env": env, "bot_version": version, "bot_run_id": run_id}
    ))
    root.addHandler(handler)
    root.setLevel(level)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (``decision_id``, ``market``, ...) to every line logged inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def log_event(
    logger: logging.Logger, event: EventType, message: str, /, *, level: int = logging.INFO,
    **fields: Any,
) -> None:
    """One log line with a fixed event name. ``exc_info=`` is passed to logging; a field whose
    name clashes with a LogRecord attribute gets a ``_field`` suffix instead of raising."""
    exc_info = fields.pop("exc_info", None)
    extra = {(f"{k}_field" if k in _SKIPPED_RECORD_ATTRS else k): v for k, v in fields.items()}
    extra["event_type"] = event.value
    logger.log(level, message, exc_info=exc_info, extra=extra)


def new_run_id(clock: Clock) -> str:
    """``YYYYMMDD-HHMMSS-<6 hex>`` in UTC."""
    moment = datetime.fromtimestamp(clock.now_ms() // 1000, tz=UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def decision_id(run_id: str, market: str, cycle: int) -> str:
    return f"{run_id}:{market}:{cycle}"


def bot_version(environ: Mapping[str, str] | None = None) -> str:
    """``BOT_VERSION`` from the environment, else the installed package version, else unknown."""
    env = os.environ if environ is None else environ
    if env.get("BOT_VERSION"):
        return env["BOT_VERSION"]
    try:
        return metadata.version("dora")
    except metadata.PackageNotFoundError:
        return "unknown"
