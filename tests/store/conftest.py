"""moto-backed Store fixtures: every test gets fresh in-memory tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
from moto import mock_aws

from dora.runtime.clock import FakeClock
from dora.store.store import Store, make_dynamodb_resource

ENV = "test"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def resource(aws: None) -> Any:
    return make_dynamodb_resource(None, "us-east-1")


@pytest.fixture
def resource_once(aws: None) -> Any:
    """A resource that sends each call once, as under a stop budget: a lost answer is final."""
    return make_dynamodb_resource(None, "us-east-1",
                                  config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_767_225_600_000)  # 2026-01-01T00:00:00Z


@pytest.fixture
def make_store(resource: Any, clock: FakeClock) -> Callable[..., Store]:
    def make(**kwargs: Any) -> Store:
        return Store(resource, ENV, kwargs.pop("clock", clock), **kwargs)

    return make


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    created = make_store()
    created.create_tables()
    return created


def walk(value: Any) -> Iterator[Any]:
    """Every leaf value inside nested maps and lists."""
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
    else:
        yield value
