"""Crash-safe records and a clean stop: the bot against the local exchange and DynamoDB, on a
fake clock (the real-process versions are in tests/chaos)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import requests

from dora.bot.shutdown import Step
from dora.bot.state import Mode
from dora.core.cancel_history import GoneClass
from dora.core.errors import TransientError
from tests.bot.test_bot_e2e import targets_are_unique, trade_log_fill_ids
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
    assert outcome.unknown_unresolved == 0
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


def test_a_cancel_a_retry_found_done_is_never_sent_again_under_read_lag(bot_env_factory):
    """Many 5xx and lost answers while outside trades move the book: a cancel applied by an
    attempt whose answer was lost, and answered 404 on the retry, stays done even while the
    lagging listing still shows the order. The exchange's journal judges: no 404 for an order
    whose earlier cancel answer reached dora."""
    env = bot_env_factory(markets=3, lag_ms=900, fault_rate=Fraction(1, 4),
                          lost_response_rate=Fraction(1, 4))
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    for _ in range(60):
        bot._guarded_cycle()
        env.clock.advance_ms(300)
    told: set[str] = set()
    stale = retried = 0
    for answer in env.sim.context.counters.cancel_answers():
        if answer.outcome == "not_found":
            stale += answer.order_id in told
            retried += answer.order_id not in told
        if answer.delivered:
            told.add(answer.order_id)
    assert retried > 0, "no retried cancel found its order gone: the test proves nothing"
    assert stale == 0
    assert sum(s.cancel_404_stale for s in bot.summaries) == 0


def test_a_restart_sees_what_a_killed_run_placed_inside_the_read_lag(bot_env_factory):
    """A run killed right after placing leaves orders the lagging listing does not show yet; the
    next start waits for the reads to catch up with its own start, so it cancels them instead of
    quoting beside them (and never re-cancels what the killed run had already cancelled)."""
    env = bot_env_factory(markets=2, lag_ms=3000, flow=False)
    env.store.set_global_fields({"lease_duration_ms": Decimal(2000)})  # shorter than the lag
    env.clock.advance_ms(5_000)  # the account's cash shows in the lagging balance read
    first = env.make_bot(Mode.BATCH)
    first.startup()
    assert env.cycles(first, 1)[0].placed == 2 * len(env.tickers)
    # killed now: its quotes are a second old; the next start waits out its 2 s lease, and
    # takes over while they are still younger than the read lag
    second = env.make_bot(Mode.BATCH)
    env.start_after_a_kill(second)
    env.cycles(second, 1)
    assert targets_are_unique(env)
    assert len(env.resting()) == 2 * len(env.tickers)


def test_a_stop_during_a_slow_startup_is_a_clean_stop_not_a_fatal_error(bot_env_factory):
    env = bot_env_factory(markets=1, lag_ms=20_000, flow=False)
    bot = env.make_bot(Mode.BATCH)
    bot.stop.set()  # SIGTERM while startup waits for the lagging reads
    assert bot.run() == 0
    assert bot.cycle == 0


def test_with_the_exchange_gone_the_stop_says_what_may_still_rest_and_why(bot_env_factory):
    env = bot_env_factory(markets=2, flow=False)
    env.clock.advance_ms(5_000)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()  # the lease and its order group are in place before the answers get lost
    env.set_knobs(lost_response_rate="1")
    env.cycles(bot, 1)  # every create's answer lost
    env.sim.stop()  # and then the exchange stops answering at all
    outcome = bot.shutdown(reason="test")
    assert (outcome.confirmed, outcome.steps["save_early"], outcome.steps["save_final"]) == (
        False, "ok", "ok")
    assert outcome.steps["settle"].startswith("failed")
    assert outcome.unknown_creates == outcome.unknown_unresolved == 2 * len(env.tickers)
    assert outcome.left_resting == 2 * len(env.tickers)  # dora's best estimate, not confirmed
    assert any("may still rest" in line for line in outcome.left)
    assert any("unresolved" in line for line in outcome.left)
    assert bot.budget.elapsed() <= bot.settings.shutdown_budget_s
