"""A conditional write whose response is lost: the SDK retries it, the retry fails its condition
because the first attempt landed, and the store must treat that as success; and one whose every
answer is lost (the store gives up): its next write finds out whether it landed
(docs/aws-notes.md#lost-acknowledgements)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError

from dora.core.errors import StaleWriteError, StoreError
from dora.core.models import RiskState
from dora.runtime.clock import FakeClock
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


class LoseNextAnswer:
    """The next attempt of the hooked call gets no answer (with one attempt allowed, the store
    gives up): ``landing``, it is applied and answered 500; else the connection closes before
    it reaches DynamoDB. Later attempts go through."""

    def __init__(self, operation: str, *, landing: bool) -> None:
        self.operation = operation
        self.landing = landing
        self.armed = True

    def __call__(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        if not self.armed:
            return None
        self.armed = False
        if not self.landing:
            raise ConnectionClosedError(endpoint_url=request.url)
        body = request.body if isinstance(request.body, bytes | str) else b"{}"
        getattr(boto3.client("dynamodb", region_name="us-east-1"), self.operation)(
            **json.loads(body))
        error = b'{"__type":"com.amazonaws#InternalServerError","message":"answer lost"}'
        return AWSResponse(request.url, 500, {}, _RawBody(error))


@pytest.fixture
def one_attempt(resource_once: Any, clock: FakeClock) -> Callable[[], Store]:
    """Stores on ``resource_once``; its tables made."""
    Store(resource_once, "lost", clock).create_tables()
    return lambda: Store(resource_once, "lost", clock)


def lose_next_answer(resource: Any, operation: str, *, landing: bool) -> LoseNextAnswer:
    """Hook ``operation`` (the client method's name, ``put_item``) of ``resource``'s client."""
    hook = LoseNextAnswer(operation, landing=landing)
    event = "".join(part.title() for part in operation.split("_"))
    resource.meta.client.meta.events.register(f"before-send.dynamodb.{event}", hook)
    return hook


def _store_after_a_lost_save(
    one_attempt: Callable[[], Store], resource: Any, *, snapshot: bool, landing: bool
) -> Store:
    """A store whose first save went through and whose second (daily P&L -2) lost its answer."""
    store = one_attempt()
    store.load_state()

    def save(pnl: int) -> None:
        if snapshot:
            store.save_snapshot({}, RiskState(daily_pnl=pnl), {"f1": 1} if pnl == -2 else {})
        else:
            store.save_risk_state(RiskState(daily_pnl=pnl))

    save(-1)
    lose_next_answer(resource, "transact_write_items" if snapshot else "put_item",
                     landing=landing)
    with pytest.raises(StoreError):
        save(-2)
    return store


def test_a_snapshot_whose_answer_was_lost_after_it_landed_is_taken_as_written(
    one_attempt: Callable[[], Store], resource_once: Any
) -> None:
    store = _store_after_a_lost_save(one_attempt, resource_once, snapshot=True, landing=True)

    store.save_snapshot({}, RiskState(daily_pnl=-3), {"f1": 1, "f2": 2})  # the next cycle's
    loaded = one_attempt().load_state()
    assert loaded.risk.daily_pnl == -3
    assert set(loaded.recent_fills) == {"f1", "f2"}


def test_an_item_whose_answer_was_lost_after_it_landed_is_taken_as_written(
    one_attempt: Callable[[], Store], resource_once: Any
) -> None:
    store = _store_after_a_lost_save(one_attempt, resource_once, snapshot=False, landing=True)

    for pnl in (-3, -4):
        store.save_risk_state(RiskState(daily_pnl=pnl))
        assert one_attempt().load_state().risk.daily_pnl == pnl


def test_a_write_whose_answer_was_lost_before_it_landed_is_sent_again(
    one_attempt: Callable[[], Store], resource_once: Any
) -> None:
    store = _store_after_a_lost_save(one_attempt, resource_once, snapshot=False, landing=False)
    before = store.versions["risk_state"]

    store.save_risk_state(RiskState(daily_pnl=-3))
    assert one_attempt().load_state().risk.daily_pnl == -3
    assert store.versions["risk_state"] == before + 1


def test_after_a_lost_answer_a_second_writer_is_still_found(
    one_attempt: Callable[[], Store], resource_once: Any
) -> None:
    store = _store_after_a_lost_save(one_attempt, resource_once, snapshot=True, landing=True)
    other = one_attempt()
    other.load_state()
    other.save_snapshot({}, RiskState(daily_pnl=-9), {"theirs": 1})

    with pytest.raises(StaleWriteError):
        store.save_snapshot({}, RiskState(daily_pnl=-3), {})
    assert one_attempt().load_state().risk.daily_pnl == -9
