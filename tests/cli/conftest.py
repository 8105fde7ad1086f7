"""Fixtures for the command tests: the CLI against a fresh local DynamoDB, and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from dora.cli.main import main


@pytest.fixture
def cli(dynamo_endpoint: str) -> Callable[..., Result]:
    """``cli(*args)`` runs a dora command on the `_sim` tables of a reset local DynamoDB."""
    requests.post(f"{dynamo_endpoint}/moto-api/reset", timeout=5).raise_for_status()
    runner = CliRunner()
    env = {"DORA_DYNAMODB_ENDPOINT": dynamo_endpoint, "DORA_TABLE_ENV": "sim"}

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env)

    assert invoke("init-db").exit_code == 0
    return invoke


def wait_for(predicate: Callable[[], Any], timeout_s: float) -> bool:
    """Poll ``predicate`` (real time: these tests drive real processes) until true or timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
