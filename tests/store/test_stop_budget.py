"""DynamoDB calls under a stop budget: timeouts that fit the time left, no late SDK retries."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from dora.core.errors import StoreError
from dora.core.models import RiskState
from dora.runtime.clock import FakeClock
from dora.store.store import Store, connect_store
from tests.store.conftest import ENV
from tests.store.test_lost_ack import _RawBody


class Left:
    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds

    def remaining(self) -> float | None:
        return self.seconds


class Variants:
    """Builds 'variants' that are the test's resource, remembering each config asked for."""

    def __init__(self, resource: Any) -> None:
        self.resource = resource
        self.configs: list[Config] = []

    def __call__(self, config: Config) -> Any:
        self.configs.append(config)
        return self.resource


class FailPutItem:
    """Answers the first ``failures`` PutItem attempts with a 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0

    def __call__(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        self.attempts += 1
        if self.attempts > self.failures:
            return None
        error = b'{"__type":"com.amazonaws#InternalServerError","message":"down"}'
        return AWSResponse(request.url, 500, {}, _RawBody(error))


def bounded_store(resource: Any, clock: FakeClock, left: float | None) -> tuple[Store, Variants]:
    variants = Variants(resource)
    store = Store(resource, ENV, clock, variants=variants)
    store.create_tables()
    store.bound_by(Left(left))
    return store, variants


@pytest.mark.parametrize(("left", "timeouts"), [
    (30.0, (2.0, 6.0)), (5.0, (1.0, 3.0)), (2.5, (0.5, 1.5)), (0.8, (0.25, 0.5)),
])
def test_each_call_gets_the_most_patient_single_attempt_that_fits(
    resource: Any, clock: FakeClock, left: float, timeouts: tuple[float, float]
) -> None:
    store, variants = bounded_store(resource, clock, left)
    store.save_risk_state(RiskState(daily_pnl=-1))
    (config,) = variants.configs
    assert (config.connect_timeout, config.read_timeout) == timeouts
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}


def test_with_too_little_time_left_nothing_is_sent(resource: Any, clock: FakeClock) -> None:
    store, variants = bounded_store(resource, clock, 0.5)
    with pytest.raises(StoreError, match="stop budget"):
        store.save_risk_state(RiskState(daily_pnl=-1))
    assert variants.configs == []
    store.bound_by(Left(None))
    assert store.load_state().risk.daily_pnl == 0


def test_without_a_stop_the_normal_resource_and_its_retries_serve(
    resource: Any, clock: FakeClock
) -> None:
    store, variants = bounded_store(resource, clock, None)
    failing = FailPutItem(failures=1)
    resource.meta.client.meta.events.register("before-send.dynamodb.PutItem", failing)
    store.save_risk_state(RiskState(daily_pnl=-1))
    assert failing.attempts == 2 and variants.configs == []


def test_once_stopping_a_failed_attempt_of_the_normal_resource_is_final(
    resource: Any, clock: FakeClock
) -> None:
    store = Store(resource, ENV, clock)  # no variants: the normal resource serves
    store.create_tables()
    store.bound_by(Left(20.0))
    failing = FailPutItem(failures=5)
    resource.meta.client.meta.events.register("before-send.dynamodb.PutItem", failing)
    with pytest.raises(StoreError, match="not retried"):
        store.save_risk_state(RiskState(daily_pnl=-1))
    assert failing.attempts == 1


def test_the_bot_s_store_builds_real_single_attempt_variants(clock: FakeClock) -> None:
    store = connect_store("http://127.0.0.1:1", "us-east-1", ENV, clock)
    store.bound_by(Left(3.0))
    variant = store._resources.now()
    config = variant.meta.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.5, 1.5)
    assert config.retries["total_max_attempts"] == 1
    assert variant.meta.client.meta.endpoint_url == "http://127.0.0.1:1"


def test_log_writes_under_a_stop_go_through_a_low_level_twin_of_the_variant(
    clock: FakeClock,
) -> None:
    store = connect_store("http://127.0.0.1:1", "us-east-1", ENV, clock)
    store.bound_by(Left(3.0))
    twin = store._resources.plain_now()
    assert twin is store._resources.plain_now()  # built once per variant
    config = twin.meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.5, 1.5)
    assert config.retries["total_max_attempts"] == 1
    assert twin.meta.endpoint_url == "http://127.0.0.1:1"
    store.bound_by(Left(0.5))
    with pytest.raises(StoreError, match="stop budget"):
        store.write_log_batch("dora_decision_log", [{"market_id": "KXA"}])
