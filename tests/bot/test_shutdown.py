"""Crash-safe records and a clean stop: the bot against the local exchange and DynamoDB, on a
fake clock (the real-process versions are in tests/chaos)."""

from __future__ import annotations

from decimal import Decimal

import requests

from dora.bot.shutdown import Step
from dora.bot.state import Mode
from dora.core.cancel_history import GoneClass
from dora.core.errors import TransientError
from tests.bot.test_bot_e2e import trade_log_fill_ids
from tests.conftest import BotEnv


def more_takers(env: BotEnv, per_s: str = "2") -> None:
    response = requests.post(f"{env.sim.control_url}/flow", timeout=5,
                             json={"enabled": True, "taker_rate_per_s": per_s})
    response.raise_for_status()


def exchange_fill_ids(env: BotEnv) -> set[str]:
    with env.sim.lock:
        return {f.fill_id for f in env.sim.engine.fills("dora")}


def exchange_positions(env: BotEnv) -> dict[str, int]:
    with env.sim.lock:
        return {p.ticker: p.position for p in env.sim.engine.positions("dora") if p.position}


def stored_positions(env: BotEnv) -> dict[str, int]:
    return {t: p.net for t, p in env.store.load_state().positions.items() if p.net}


def test_a_kill_right_after_the_startup_save_loses_no_trade_log_row(bot_env_factory):
    env = bot_env_factory(markets=3)
    more_takers(env)
    first = env.make_bot(Mode.BATCH)
    first.startup()
    env.cycles(first, 10)
    env.clock.advance_ms(20_000)  # killed: its orders rest and keep getting filled
    second = env.make_bot(Mode.BATCH)
    env.start_after_a_kill(second)  # ... and this one is killed right after its startup save
    assert second.state.fills_total > 0, "no fills to apply at startup: the test proves nothing"
    assert set(env.store.load_state().recent_fills) <= trade_log_fill_ids(env)

    third = env.make_bot(Mode.BATCH)
    env.start_after_a_kill(third)
    env.cycles(third, 3)
    third.shutdown(reason="test")
    rows = env.store._table("dora_trade_log").scan()["Items"]
    assert sorted(r["fill_id"] for r in rows) == sorted(exchange_fill_ids(env))
    assert stored_positions(env) == exchange_positions(env)


def test_a_clean_stop_under_read_lag_saves_the_exchange_s_own_positions(bot_env_factory):
    env = bot_env_factory(markets=3, lag_ms=900)
    more_takers(env, "4")
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 40, step_ms=300)
    outcome = bot.shutdown(reason="test")
    assert (outcome.confirmed, outcome.left_resting, env.resting()) == (True, 0, [])
    assert bot.state.fills_total > 0
    assert stored_positions(env) == exchange_positions(env)
    assert trade_log_fill_ids(env) == exchange_fill_ids(env)


def test_a_stop_right_after_lost_answers_leaves_nothing_resting_and_says_so(bot_env_factory):
    env = bot_env_factory(markets=3, lag_ms=900, flow=False)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    for ticker in env.tickers:  # new sizes: every quote is replaced
        item = env.store.get_market_config_item(ticker) or {}
        env.store.put_market_config_item({**item, "quote_size": Decimal("7")})
    env.set_knobs(lost_response_rate="1/2")
    env.cycles(bot, 2, step_ms=200)
    outcome = bot.shutdown(reason="test")
    assert outcome.unknown_creates > 0, "no create lost its answer: the test proves nothing"
    assert env.resting() == []
    assert (outcome.confirmed, outcome.left_resting, outcome.left) == (True, 0, [])
    assert outcome.report.gone[GoneClass.STALE] == 0


def test_a_failed_step_does_not_stop_the_next_and_a_step_without_time_is_skipped(
    bot_env_factory,
):
    env = bot_env_factory(markets=1, flow=False)
    bot = env.make_bot(Mode.BATCH)
    stopper = bot.stopping()
    ran: list[str] = []

    def failing() -> None:
        ran.append("failing")
        raise TransientError("exchange down")

    def slow() -> None:
        ran.append("slow")
        env.clock.advance_ms(60_000)

    stopper.steps = [Step("failing", failing, cap_s=5), Step("slow", slow, cap_s=60),
                     Step("after", lambda: ran.append("after"), cap_s=5)]
    outcome = stopper.run("test", 0)
    assert ran == ["failing", "slow"]
    assert outcome.steps["failing"].startswith("failed: TransientError")
    assert (outcome.steps["slow"], outcome.steps["after"]) == ("ok", "skipped: no time left")
    assert any(line.startswith("failing failed") for line in outcome.left)


def test_a_step_slots_in_by_name(bot_env_factory):
    """The lease's steps are slotted in by the loop: the group trigger before the cancels, the
    release at the very end; another slots in the same way."""
    env = bot_env_factory(markets=1, flow=False)
    stopper = env.make_bot(Mode.BATCH).stopping()
    stopper.insert_step(Step("flush", lambda: None, cap_s=2), before="release_lease")
    names = [s.name for s in stopper.steps]
    assert names == ["stop_placing", "save_early", "trigger_group", "cancel_resting", "settle",
                     "final_fills", "save_final", "flush", "release_lease"]
