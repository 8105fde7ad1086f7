from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from dora.runtime.clock import FakeClock
from dora.runtime.logs import (
    EventType,
    bot_version,
    decision_id,
    log_context,
    log_event,
    new_run_id,
    setup_logging,
)
from tests.conftest import captured_json_logs

FAKE_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfakefakefake\n"
    "-----END PRIVATE KEY-----"
)
REQUIRED = ("ts", "level", "service", "env", "bot_version", "bot_run_id", "message",
            "event_type", "logger")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    with captured_json_logs(env="sim", run_id="20260101-000000-abcdef", service="dora",
                            version="1.2.3", level=logging.DEBUG) as out:
        yield out


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert all(isinstance(p, dict) for p in parsed)
    return parsed


def test_every_line_is_json_with_the_required_fields(stream: io.StringIO) -> None:
    logging.getLogger("dora.test").info("plain line")
    log_event(logging.getLogger("dora.loop"), EventType.HEARTBEAT, "alive", cycle=3)
    first, second = lines(stream)
    for line in (first, second):
        assert all(key in line for key in REQUIRED)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert (first["event_type"], first["logger"], first["level"]) == ("LOG", "dora.test", "INFO")
    assert (second["event_type"], second["cycle"], second["service"]) == ("HEARTBEAT", 3, "dora")
    assert (second["env"], second["bot_version"], second["bot_run_id"]) == (
        "sim", "1.2.3", "20260101-000000-abcdef")


def test_context_fields_apply_inside_the_block_only(stream: io.StringIO) -> None:
    log = logging.getLogger("dora.test")
    with log_context(decision_id="run:KXA:7", market="KXA"):
        log.info("inside")
        log_event(log, EventType.FILL, "explicit wins", market="KXB")
    log.info("outside")
    inside, explicit, outside = lines(stream)
    assert (inside["decision_id"], inside["market"]) == ("run:KXA:7", "KXA")
    assert (explicit["decision_id"], explicit["market"]) == ("run:KXA:7", "KXB")
    assert "decision_id" not in outside and "market" not in outside


def test_exceptions_carry_type_message_and_stack(stream: io.StringIO) -> None:
    try:
        raise KeyError("missing-thing")
    except KeyError:
        log_event(logging.getLogger("dora.test"), EventType.ERROR, "cycle failed",
                  level=logging.ERROR, exc_info=True)
    (line,) = lines(stream)
    assert line["error_type"] == "KeyError"
    assert "missing-thing" in line["error_msg"]
    assert "Traceback" in line["stack"] and line["event_type"] == "ERROR"


def test_private_key_blocks_are_masked_everywhere(stream: io.StringIO) -> None:
    log = logging.getLogger("dora.test")
    log.info("loaded %s", FAKE_PEM)
    log_event(log, EventType.LOG, "nested", detail={"pem": [FAKE_PEM]}, note=f"x {FAKE_PEM} y")
    text = stream.getvalue()
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfakefakefake" not in text
    assert "PRIVATE KEY" not in text
    assert lines(stream)[1]["note"] == "x [REDACTED] y"


@pytest.mark.parametrize(
    "field", ["signature", "KALSHI-ACCESS-SIGNATURE", "private_key", "Authorization",
              "aws_secret_access_key"],
)
def test_secret_named_fields_are_masked(stream: io.StringIO, field: str) -> None:
    fields: dict[str, Any] = {field: "c2VjcmV0LXNpZ25hdHVyZQ==", "headers": {field: "abc123"}}
    log_event(logging.getLogger("dora.test"), EventType.LOG, "request", **fields)
    (line,) = lines(stream)
    assert line[field] == "[REDACTED]"
    assert line["headers"][field] == "[REDACTED]"
    assert "c2VjcmV0LXNpZ25hdHVyZQ==" not in stream.getvalue()


def test_signature_header_inside_a_message_is_masked(stream: io.StringIO) -> None:
    logging.getLogger("dora.test").warning("sent {'KALSHI-ACCESS-SIGNATURE': 'c2lnbmVk'}")
    assert "c2lnbmVk" not in stream.getvalue()


@pytest.mark.parametrize("text", [
    "sent {'kalshi-access-signature': 'c2lnbmVk'}",  # any case: the quick pre-check too
    "headers: Kalshi-Access-Key=c2lnbmVk, next",
    "a field {'k': ['x', {'deep': 'KALSHI-ACCESS-SIGNATURE: c2lnbmVk'}]}",
])
def test_signature_headers_in_any_case_and_nesting_are_masked(stream: io.StringIO,
                                                              text: str) -> None:
    log_event(logging.getLogger("dora.test"), EventType.LOG, text, nested={"a": [text]})
    assert "c2lnbmVk" not in stream.getvalue()


def test_setup_logging_twice_does_not_duplicate_lines(stream: io.StringIO) -> None:
    setup_logging(service="dora", env="demo", run_id="r2", version="v", stream=stream)
    logging.getLogger("dora.test").info("once")
    (line,) = lines(stream)
    assert (line["env"], line["bot_run_id"]) == ("demo", "r2")


def test_decimals_are_logged_exactly(stream: io.StringIO) -> None:
    log_event(logging.getLogger("dora.test"), EventType.FILL, "fill", price=Decimal("0.5600"))
    assert lines(stream)[0]["price"] == "0.5600"


def test_fields_named_like_record_attributes_do_not_crash(stream: io.StringIO) -> None:
    log_event(logging.getLogger("dora.test"), EventType.LOG, "ok", name="x", message="y")
    line = lines(stream)[0]
    assert (line["message"], line["name_field"], line["message_field"]) == ("ok", "x", "y")


def test_run_and_decision_ids() -> None:
    run = new_run_id(FakeClock(1_767_225_600_000))
    assert re.fullmatch(r"20260101-000000-[0-9a-f]{6}", run)
    assert decision_id(run, "KXA", 12) == f"{run}:KXA:12"


def test_bot_version_prefers_the_environment() -> None:
    assert bot_version({"BOT_VERSION": "abc123"}) == "abc123"
    assert bot_version({}) != ""


def test_event_types_cover_the_predecessors_and_dora_s_own() -> None:
    names = {e.value for e in EventType}
    assert {"STARTUP", "SHUTDOWN", "HEARTBEAT", "DECISION_MADE", "ORDER_PLACE", "ORDER_PLACED",
            "ORDER_CANCEL", "ORDER_RESULT", "FILL", "RISK_HALT", "STATE_SAVE", "STATE_LOAD",
            "CONFIG_REFRESH", "ERROR", "LOG", "FLAG", "BATCH_CANCEL", "BATCH_CANCEL_FAILED",
            "BATCH_CANCEL_SUMMARY", "BATCH_PLACE", "BATCH_PLACE_FAILED", "BATCH_PLACE_SUMMARY",
            "RATE_LIMIT", "RATE_LIMIT_BACKOFF", "MODE_SWITCH", "ORDER_CANCELLED", "DRIFT",
            "CYCLE_SUMMARY"} <= names
