"""A conditional write whose response is lost: the SDK retries it, the retry fails its condition
because the first attempt landed, and the store must treat that as success
(docs/aws-notes.md#lost-acknowledgements)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from dora.core.errors import StaleWriteError
from dora.core.models import RiskState
from dora.store.store import Store


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_args: Any, **_kwargs: Any) -> bytes:
        return self._body


class LoseFirstAck:
    """Applies the first call (``operation``, the client method of the hooked event) through
    another client, then answers 500 as if the response was lost; later attempts go through
    normally."""

    def __init__(self, operation: str = "put_item") -> None:
        self.operation = operation
        self.attempts = 0

    def __call__(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        self.attempts += 1
        if self.attempts > 1:
            return None
        body = request.body if isinstance(request.body, bytes | str) else b"{}"
        call = getattr(boto3.client("dynamodb", region_name="us-east-1"), self.operation)
        call(**json.loads(body))
        error = b'{"__type":"com.amazonaws#InternalServerError","message":"response lost"}'
        return AWSResponse(request.url, 500, {}, _RawBody(error))


@pytest.fixture
def lose_first_ack(store: Store, resource: Any) -> LoseFirstAck:
    hook = LoseFirstAck()
    resource.meta.client.meta.events.register("before-send.dynamodb.PutItem", hook)
    return hook


def test_lost_ack_on_a_versioned_write_is_success(store: Store, lose_first_ack: LoseFirstAck,
                                                  make_store: Any) -> None:
    store.load_state()
    store.save_risk_state(RiskState(daily_pnl=-1))

    assert lose_first_ack.attempts == 2
    assert store.versions["risk_state"] == 1
    assert make_store().load_state().risk.daily_pnl == -1
    store.save_risk_state(RiskState(daily_pnl=-2))
    assert make_store().load_state().risk.daily_pnl == -2


def test_lost_ack_check_still_detects_a_real_conflict(store: Store, make_store: Any) -> None:
    store.load_state()
    other = make_store()
    other.load_state()
    other.save_risk_state(RiskState(daily_pnl=-9))
    with pytest.raises(StaleWriteError):
        store.save_risk_state(RiskState(daily_pnl=-1))
