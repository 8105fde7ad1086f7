"""Time formats shared by the decision records and the store: UTC ISO-8601 and dates. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dora.core.models import TsMs

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
MS_PER_DAY = 86_400_000


def iso_ms(ts_ms: TsMs) -> str:
    """Epoch milliseconds -> aware UTC ISO-8601 with milliseconds: ``2026-01-01T00:00:00.123Z``."""
    moment = _EPOCH + ts_ms * _ONE_MS
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_date(ts_ms: TsMs) -> str:
    return (_EPOCH + ts_ms * _ONE_MS).strftime("%Y-%m-%d")


def parse_iso_ms(text: str) -> TsMs:
    """ISO-8601 -> epoch milliseconds; a naive time (the predecessor wrote some) is taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_MS

