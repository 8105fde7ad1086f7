"""Operator commands pick their tables explicitly, show values in dollars and contracts, and refuse
values that are never what an operator means."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dora.cli.main import main
from dora.core.models import RestingOrder, RiskState, Side
from dora.runtime.clock import SystemClock
from dora.store.store import Store, make_dynamodb_resource

NO_TARGET = {"DORA_DYNAMODB_ENDPOINT": None, "DORA_TABLE_ENV": None, "DORA_SIM_READY_FILE": None}


@pytest.mark.parametrize(
    "args",
    [
        ["halt", "--reason", "maintenance"],
        ["resume"],
        ["flags", "set", "trading_enabled", "false"],
        ["markets", "set", "KX-1", "quote_size=5"],
        ["markets", "disable", "KX-1"],
        ["init-db"],
        ["cancel-all"],
    ],
)
def test_a_write_without_an_environment_is_refused_with_how_to_pick_one(args) -> None:
    result = CliRunner().invoke(main, args, env=NO_TARGET)
    assert result.exit_code == 2, result.output
    assert "no environment chosen" in result.output
    assert "--env sim|demo|prod" in result.output and "--local" in result.output



def test_flags_take_negative_numbers_without_a_double_dash_and_answer_in_dollars(cli) -> None:
    result = cli("flags", "set", "max_daily_loss", "-5")
    assert result.exit_code == 1
    assert "got -$5.00" in result.output and "5000000" not in result.output
    result = cli("flags", "set", "max_daily_loss", "250")
    assert result.exit_code == 0
    assert result.output.strip() == "max_daily_loss = $250.00"
    assert cli("flags", "set", "max_total_exposure", "500").output.strip() == (
        "max_total_exposure = 500 contracts")
    assert cli("flags", "get", "max_daily_loss").output.strip() == "$250.00"


def test_flags_get_shows_every_effective_value(cli) -> None:
    assert cli("flags", "set", "--allow-unknown", "team_note", "desk 2").exit_code == 0
    lines = cli("flags", "get").output.splitlines()
    shown = {line.split()[0]: line for line in lines}
    assert "$100.00  (default)" in shown["max_daily_loss"]
    assert "5000 ms  (default)" in shown["loop_interval_ms"]
    assert "--batch/--per-market decides" in shown["use_batch_execution"]
    assert "desk 2" in shown["team_note"] and "not a dora flag" in shown["team_note"]


def test_a_zero_loop_interval_is_refused_with_the_reason(cli) -> None:
    result = cli("flags", "set", "loop_interval_ms", "0")
    assert result.exit_code == 1
    assert "back to back" in result.output
    assert "(default)" in cli("flags", "get", "loop_interval_ms").output


def test_markets_list_explains_an_empty_table_and_shows_defaults_in_units(cli) -> None:
    result = cli("markets", "list")
    assert result.exit_code == 0
    assert "no market configs in dora_market_config_sim" in result.output
    assert "dora markets set" in result.output
    saved = cli("markets", "set", "KX-1", "enabled=true")
    assert saved.exit_code == 0 and saved.output.startswith("saved: KX-1")
    line = cli("markets", "list").output
    assert "None" not in line
    assert "size 10  spread $0.0600  caps yes 100 / no 100 contracts" in line


def test_quote_size_zero_is_refused_and_points_to_disable(cli) -> None:
    result = cli("markets", "set", "KX-1", "quote_size=0", "enabled=true")
    assert result.exit_code == 1
    assert "dora markets disable KX-1" in result.output
    assert cli("markets", "show", "KX-1").exit_code != 0


def test_status_shows_human_times_cents_and_no_side_orders(cli, dynamo_endpoint) -> None:
    clock = SystemClock()
    store = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "sim", clock)
    store.load_state()
    now = clock.now_ms()
    store.save_risk_state(RiskState(daily_pnl=-12_345_678, last_fill_ts_ms=now - 30_000))
    store.save_open_orders([
        RestingOrder("o-1", "dora-a", "KX-1", Side.ASK, 5_500, 1_000),
        RestingOrder("o-2", "dora-b", "KX-1", Side.BID, 4_500, 250),
    ], {})
    output = cli("status").output
    assert "daily P&L:   -$12.35" in output
    assert "(30 s ago)" in output or "(31 s ago)" in output
    assert "epoch" not in output
    assert "buy NO  10.00 @ $0.4500 (sell YES @ $0.5500)" in output
    assert "buy YES 2.50 @ $0.4500" in output


def test_halt_and_status_name_the_tables_they_act_on(cli) -> None:
    assert "trading halted (dora_state_sim)" in cli("halt", "--reason", "x").output
    status = cli("status").output
    assert "tables:      dora_state_sim" in status
    assert "halted:      YES - x" in status


def test_halt_wins_a_race_with_the_bot_saving_in_between(cli, dynamo_endpoint, monkeypatch):
    """A running bot saves risk_state every few cycles: when its save lands between the
    operator's read and write, the halt is written again on the fresh item, keeping the bot's
    numbers."""
    bot_store = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "sim", SystemClock())
    bot_store.load_state()
    original = Store.load_state
    raced: list[bool] = []

    def read_then_the_bot_saves(self: Store):
        state = original(self)
        if not raced:
            raced.append(True)
            bot_store.save_risk_state(RiskState(daily_pnl=-3_000_000))
        return state

    monkeypatch.setattr(Store, "load_state", read_then_the_bot_saves)
    result = cli("halt", "--reason", "race")
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(Store, "load_state", original)
    stored = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), "sim",
                   SystemClock()).load_state().risk
    assert raced and stored.trading_halted and stored.halt_reason == "race"
    assert stored.daily_pnl == -3_000_000
