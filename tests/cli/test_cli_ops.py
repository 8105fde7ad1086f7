"""The operator commands and `dora run` argument handling, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dora.cli.app import Connection, build_client
from dora.cli.main import main
from dora.core.ledger import CashView
from dora.core.models import Balance, OrderRequest, Side
from dora.exchange.credentials import Credentials
from dora.runtime.clock import SystemClock
from dora.store.store import Store, make_dynamodb_resource


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
    assert cli("flags", "get", "use_batch_execution").output.strip() == "false"
    assert cli("flags", "get", "no_such_flag").exit_code != 0


def test_halt_and_resume_show_in_status(cli):
    assert cli("halt", "--reason", "maintenance").exit_code == 0
    status = cli("status")
    assert status.exit_code == 0
    assert "YES - maintenance" in status.output
    assert cli("resume").exit_code == 0
    assert "halted:      no" in cli("status").output


def test_markets_set_refuses_the_market_id_key(cli):
    assert cli("markets", "set", "OTHER", "quote_size=7").exit_code == 0
    result = cli("markets", "set", "MKT-A", "market_id=OTHER", "quote_size=9")
    assert result.exit_code != 0
    assert "market_id" in result.output
    assert "first argument" in result.output
    assert json.loads(cli("markets", "show", "OTHER").output)["quote_size"] == "7"
    assert cli("markets", "show", "MKT-A").exit_code != 0


def test_markets_set_refuses_an_unknown_field_and_lists_the_known_ones(cli):
    result = cli("markets", "set", "MKT-A", "quot_size=5")
    assert result.exit_code != 0
    assert "quot_size" in result.output
    assert "quote_size" in result.output
    assert "--allow-unknown" in result.output
    assert cli("markets", "show", "MKT-A").exit_code != 0


def test_markets_set_allow_unknown_stores_a_field_that_later_sets_keep(cli):
    assert cli("markets", "set", "--allow-unknown", "MKT-A", "owner=desk-2").exit_code == 0
    assert cli("markets", "set", "MKT-A", "quote_size=6").exit_code == 0
    shown = json.loads(cli("markets", "show", "MKT-A").output)
    assert shown["owner"] == "desk-2"
    assert shown["quote_size"] == "6"


def test_flags_set_refuses_an_unknown_key_unless_allowed(cli):
    result = cli("flags", "set", "use_batch_exection", "false")
    assert result.exit_code != 0
    assert "use_batch_execution" in result.output
    assert "--allow-unknown" in result.output
    assert cli("flags", "get", "use_batch_exection").exit_code != 0
    assert cli("flags", "set", "--allow-unknown", "team_note", "hello").exit_code == 0
    assert cli("flags", "get", "team_note").output.strip() == "hello"


@pytest.mark.parametrize("command", ["enable", "disable"])
def test_enable_and_disable_need_an_existing_config(cli, command):
    result = cli("markets", command, "TYPO-TICKER")
    assert result.exit_code != 0
    assert "no config for TYPO-TICKER" in result.output
    assert "dora markets set" in result.output
    assert cli("markets", "show", "TYPO-TICKER").exit_code != 0


@pytest.mark.parametrize("reason", ["", "   "])
def test_halt_needs_a_non_empty_reason(cli, reason):
    result = cli("halt", "--reason", reason)
    assert result.exit_code != 0
    assert "--reason" in result.output
    assert "halted:      no" in cli("status").output


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("loop_interval_ms", "x", "a whole number"),
        ("use_batch_execution", "maybe", "true or false"),
        ("max_daily_loss", "1e5000", "a dollar amount"),
        ("max_total_exposure", "1e5000", "a number of contracts"),
    ],
)
def test_flags_set_with_an_unusable_value_names_the_key_and_type(cli, name, value, expected):
    result = cli("flags", "set", name, value)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0
    assert name in result.output
    assert expected in result.output
    assert "(default)" in cli("flags", "get", name).output


@pytest.mark.parametrize("value", ["1e5000", "1e999999999"])
def test_markets_set_refuses_a_number_dynamodb_cannot_store(cli, value):
    result = cli("markets", "set", "MKT-A", f"quote_size={value}")
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0
    assert "quote_size" in result.output


def test_markets_set_empty_value_removes_an_optional_field(cli):
    assert cli("markets", "set", "MKT-A", "fair_value=0.5").exit_code == 0
    assert cli("markets", "set", "MKT-A", "fair_value=").exit_code == 0
    assert "fair_value" not in json.loads(cli("markets", "show", "MKT-A").output)


def test_markets_set_empty_value_for_a_required_field_is_refused(cli):
    assert cli("markets", "set", "MKT-A", "quote_size=5").exit_code == 0
    result = cli("markets", "set", "MKT-A", "quote_size=")
    assert result.exit_code != 0
    assert "give a value" in result.output
    assert json.loads(cli("markets", "show", "MKT-A").output)["quote_size"] == "5"


def test_store_errors_say_which_settings_to_check(tmp_path):
    missing = str(tmp_path / "missing")
    no_aws = {
        "DORA_DYNAMODB_ENDPOINT": None, "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None, "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_CONFIG_FILE": missing, "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None, "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
        "AWS_WEB_IDENTITY_TOKEN_FILE": None,
    }
    result = CliRunner().invoke(main, ["status"], env=no_aws)
    assert result.exit_code != 0
    assert "DORA_DYNAMODB_ENDPOINT" in result.output
    assert "AWS_REGION" in result.output


def test_cancel_all_has_no_prefix_option():
    result = CliRunner().invoke(main, ["cancel-all", "--prefix", ""])
    assert result.exit_code != 0
    assert "No such option" in result.output
    assert "--prefix" in result.output


def test_cancel_all_cancels_dora_orders_and_leaves_manual_ones(sim_factory):
    sim = sim_factory(markets=1, flow=False)
    key = Path(sim.private_key_path or "").read_bytes()
    client = build_client(Connection(sim.url, Credentials.from_pem(sim.key_id, key)), "basic",
                          SystemClock())
    ticker = client.fetch_markets(status="open")[0].ticker
    for client_order_id in ("dora-x-1", "manual-1"):
        client.place_order(OrderRequest(ticker, Side.BID, 100, 100, client_order_id))
    env = {"KALSHI_API_KEY_ID": sim.key_id, "KALSHI_PRIVATE_KEY_PATH": sim.private_key_path}
    result = CliRunner().invoke(main, ["cancel-all", "--url", sim.url], env=env)
    assert result.exit_code == 0, result.output
    assert "cancelled 1 of 1" in result.output
    assert [o.client_order_id for o in client.fetch_resting_orders()] == ["manual-1"]


def test_markets_set_knows_the_closing_settings_and_the_strategy(cli):
    assert cli("markets", "set", "MKT-A", "stop_loss=5", "strategy=microprice",
               "close_on_disable=true", "close_max_slippage=0.03").exit_code == 0
    shown = json.loads(cli("markets", "show", "MKT-A").output)
    assert (shown["stop_loss"], shown["strategy"], shown["close_on_disable"]) == (
        "5", "microprice", True)
    assert cli("markets", "set", "MKT-A", "stop_loss=").exit_code == 0  # back to the default
    assert "stop_loss" not in json.loads(cli("markets", "show", "MKT-A").output)
    refused = cli("markets", "set", "MKT-A", "max_hold_s=0")
    assert refused.exit_code != 0 and "max_hold_s" in refused.output


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("min_cash_reserve", "x", "a dollar amount"), ("close_max_slippage", "2", "a price"),
     ("strategy", "a b", "a name")],
)
def test_flags_set_knows_the_closing_defaults(cli, name, value, expected):
    result = cli("flags", "set", name, value)
    assert result.exit_code != 0 and expected in result.output
    assert cli("flags", "set", "min_cash_reserve", "25").exit_code == 0
    assert cli("flags", "get", "min_cash_reserve").output.strip() == "$25.00"
    shown = cli("flags", "get").output  # every effective value, the unset ones too
    assert "stop_loss               absent  (default)" in shown
    assert "close_max_slippage      $0.0500  (default)" in shown


def test_status_shows_the_balance_promised_and_free_cash(cli, dynamo_endpoint):
    store = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "sim", SystemClock())
    store.save_balance(Balance(9_000_000, 1_000_000, 1_767_225_600_000),
                       CashView(9_000_000, 1_767_225_600_000, promised=3_000_000))
    output = cli("status").output
    assert "cash:              balance $9.00, promised $3.00, free $6.00" in output
