"""Item shapes of the trader's lifecycle in ``dora_state``, in both directions.

- ``calibration``: the last calibration report, the session's start values and cash invested vs
  recouped, and the time of each kind of last successful sync (``dora status`` shows them).
- ``api_errors``: the predecessor's per-market error counters (its dashboard reads them), each
  entry also carrying the market's circuit breaker as flat ``breaker_*`` fields; an operator's
  ``dora markets reset`` closes a breaker by writing ``breaker_reset_at``.
Money is exact Decimal dollars, times UTC ISO-8601 (docs/compatibility.md#state-items).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dora.core.breaker import Breaker, BreakerState
from dora.core.calibration import CalibrationReport, CalibrationStep, StepStatus
from dora.core.models import TsMs
from dora.core.session import SessionCash, SessionStart
from dora.core.timefmt import iso_ms, parse_iso_ms
from dora.core.units import count_to_decimal, micros_to_decimal
from dora.store.codec import count_from_item, int_from_item, micros_from_item
from dora.store.items import ApiErrorRecord


# -- calibration ----------------------------------------------------------------------------------
def calibration_body(
    report: CalibrationReport | None, session: SessionStart | None, cash: SessionCash,
    last_sync: Mapping[str, TsMs], now_ms: TsMs,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "last_sync": {kind: iso_ms(ts) for kind, ts in sorted(last_sync.items()) if ts},
        "session_cash": {"invested": micros_to_decimal(cash.invested),
                         "recouped": micros_to_decimal(cash.recouped),
                         "net": micros_to_decimal(cash.net)},
        "last_updated": iso_ms(now_ms),
    }
    if report is not None:
        body["report"] = _report_map(report)
    if session is not None:
        body["session"] = _session_map(session)
    return body


def _report_map(report: CalibrationReport) -> dict[str, Any]:
    return {
        "taken_at": iso_ms(report.taken_ms), "kind": report.kind, "status": report.status.value,
        "steps": [{"name": s.name, "status": s.status.value, "duration_ms": s.duration_ms,
                   "summary": s.summary, "details": [list(pair) for pair in s.details]}
                  for s in report.steps],
    }


def _session_map(session: SessionStart) -> dict[str, Any]:
    return {
        "run_id": session.run_id, "started_at": iso_ms(session.started_ms),
        "balance": micros_to_decimal(session.balance),
        "portfolio_value": micros_to_decimal(session.portfolio_value),
        "total": micros_to_decimal(session.value),
        "positions": {t: count_to_decimal(net) for t, net in session.positions},
    }


def parse_report(item: Mapping[str, Any] | None) -> CalibrationReport | None:
    entry = (item or {}).get("report")
    if not entry:
        return None
    steps = tuple(
        CalibrationStep(str(s["name"]), StepStatus(str(s["status"])),
                        int_from_item(s.get("duration_ms")), str(s.get("summary", "")),
                        tuple((str(k), str(v)) for k, v in s.get("details") or ()))
        for s in entry.get("steps") or ())
    return CalibrationReport(parse_iso_ms(str(entry["taken_at"])), str(entry.get("kind", "")),
                             steps)


def parse_session(item: Mapping[str, Any] | None) -> SessionStart | None:
    entry = (item or {}).get("session")
    if not entry:
        return None
    positions = tuple(sorted((str(t), count_from_item(n))
                             for t, n in (entry.get("positions") or {}).items()))
    return SessionStart(str(entry.get("run_id", "")), parse_iso_ms(str(entry["started_at"])),
                        micros_from_item(entry.get("balance")),
                        micros_from_item(entry.get("portfolio_value")), positions)


def parse_last_sync(item: Mapping[str, Any] | None) -> dict[str, TsMs]:
    return {str(k): parse_iso_ms(str(v)) for k, v in ((item or {}).get("last_sync") or {}).items()}


# -- api errors and breakers ----------------------------------------------------------------------
def api_errors_body(
    errors: Mapping[str, ApiErrorRecord], breakers: Mapping[str, Breaker], now_ms: TsMs
) -> dict[str, Any]:
    """The predecessor's shape; markets with a breaker worth keeping carry its fields too."""
    entries: dict[str, dict[str, Any]] = {}
    for name, e in errors.items():
        entries[name] = {
            "count": e.count, "last_error": iso_ms(e.last_error_ms),
            "last_error_code": e.last_error_code, "last_status_code": e.last_status_code,
            "last_error_msg": e.last_error_msg,
        }
    for name, breaker in breakers.items():
        entry = entries.setdefault(name, {"count": 0})
        entry.update(_breaker_map(breaker))
    return {"errors": entries, "last_updated": iso_ms(now_ms)}


def _breaker_map(breaker: Breaker) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "breaker_state": breaker.state.value, "breaker_failures": breaker.failures,
        "breaker_trips": breaker.trips, "breaker_reason": breaker.reason,
    }
    for name, ts in (("breaker_open_until", breaker.open_until_ms),
                     ("breaker_changed_at", breaker.changed_ms),
                     ("breaker_reset_at", breaker.reset_ms)):
        if ts:
            fields[name] = iso_ms(ts)
    return fields


def parse_api_errors(
    item: Mapping[str, Any] | None
) -> tuple[dict[str, ApiErrorRecord], dict[str, Breaker]]:
    errors: dict[str, ApiErrorRecord] = {}
    breakers: dict[str, Breaker] = {}
    for name, entry in ((item or {}).get("errors") or {}).items():
        count = int_from_item(entry.get("count"))
        if count:
            status = entry.get("last_status_code")
            errors[str(name)] = ApiErrorRecord(
                count, _time(entry.get("last_error")), str(entry.get("last_error_code") or ""),
                None if status is None else int_from_item(status),
                str(entry.get("last_error_msg") or ""))
        if entry.get("breaker_state"):
            breakers[str(name)] = _parse_breaker(entry)
    return errors, breakers


def _parse_breaker(entry: Mapping[str, Any]) -> Breaker:
    return Breaker(
        state=BreakerState(str(entry["breaker_state"])),
        failures=int_from_item(entry.get("breaker_failures")),
        trips=int_from_item(entry.get("breaker_trips")),
        open_until_ms=_time(entry.get("breaker_open_until")),
        changed_ms=_time(entry.get("breaker_changed_at")),
        reason=str(entry.get("breaker_reason") or ""),
        reset_ms=_time(entry.get("breaker_reset_at")),
    )


def _time(value: Any) -> TsMs:
    return parse_iso_ms(value) if isinstance(value, str) and value else 0


def with_breaker_reset(item: Mapping[str, Any] | None, ticker: str, now_ms: TsMs) -> dict[str, Any]:
    """The ``api_errors`` body with ``ticker``'s breaker closed by hand (an operator's reset);
    its error counters and every other market's entry are kept."""
    body = {k: v for k, v in (item or {}).items() if k not in ("key", "version")}
    errors = {str(k): dict(v) for k, v in (body.get("errors") or {}).items()}
    entry = errors.setdefault(ticker, {"count": 0})
    for name in ("breaker_open_until", "breaker_changed_at"):
        entry.pop(name, None)
    entry.update(_breaker_map(Breaker(changed_ms=now_ms, reset_ms=now_ms)))
    body["errors"] = errors
    body["last_updated"] = iso_ms(now_ms)
    return body
