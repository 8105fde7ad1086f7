"""The operator commands and `dora run` argument handling, through the real CLI."""

from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner

from dora.cli import main


@pytest.fixture
def cli(dynamo_endpoint):
    requests.post(f"{dynamo_endpoint}/moto-api/reset", timeout=5).raise_for_status()
    runner = CliRunner()
    env = {"DORA_DYNAMODB_ENDPOINT": dynamo_endpoint, "DORA_TABLE_ENV": "sim"}

    def invoke(*args: str):
        return runner.invoke(main, list(args), env=env)

    assert invoke("init-db").exit_code == 0
    return invoke


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["run", "--loops", "0"], "--loops"),
        (["run", "--loops", "2", "--duration", "5"], "either --loops or --duration"),
        (["run", "--env", "staging"], "--env"),
        (["run", "--env", "prod", "--url", "http://127.0.0.1:1"], "exclusive"),
        (["run", "--url", "ftp://127.0.0.1"], "http://"),
    ],
)
def test_bad_run_arguments_exit_non_zero_with_a_fix(args, hint):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert hint in result.output


def test_init_db_is_idempotent(cli):
    result = cli("init-db")
    assert result.exit_code == 0
    assert "already exist" in result.output


def test_markets_set_show_enable_disable(cli):
    assert cli("markets", "set", "MKT-A", "quote_size=5", "min_spread=0.04").exit_code == 0
    shown = json.loads(cli("markets", "show", "MKT-A").output)
    assert shown["quote_size"] == "5"
    assert cli("markets", "enable", "MKT-A").exit_code == 0
    assert "enabled" in cli("markets", "list").output
    assert cli("markets", "disable", "MKT-A").exit_code == 0
    assert "disabled" in cli("markets", "list").output


def test_markets_set_rejects_a_malformed_value_and_saves_nothing(cli):
    result = cli("markets", "set", "MKT-B", "quote_size=-3")
    assert result.exit_code != 0
    assert "not saved" in result.output
    assert cli("markets", "show", "MKT-B").exit_code != 0


def test_markets_set_needs_key_value_pairs(cli):
    result = cli("markets", "set", "MKT-C", "quote_size")
    assert result.exit_code != 0
    assert "key=value" in result.output


def test_flags_set_and_get(cli):
    assert cli("flags", "set", "use_batch_execution", "false").exit_code == 0
    assert cli("flags", "get", "use_batch_execution").output.strip() == "False"
    assert cli("flags", "get", "no_such_flag").exit_code != 0


def test_halt_and_resume_show_in_status(cli):
    assert cli("halt", "--reason", "maintenance").exit_code == 0
    status = cli("status")
    assert status.exit_code == 0
    assert "YES - maintenance" in status.output
    assert cli("resume").exit_code == 0
    assert "halted:      no" in cli("status").output
