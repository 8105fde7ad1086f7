"""Expiry renewal end to end: the bot against the local exchange, over runs longer than the
orders' expiry (FakeClock), judged from the exchange's own orders, queue and request counts."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from dora.bot.loop import Bot
from dora.bot.state import Mode
from dora.cli.app import Connection, build_client
from dora.core.models import RestingOrder, SelfTradePrevention, TimeInForce
from dora.core.renewal import REFUSALS_BEFORE_FALLBACK
from dora.core.tiers import Bucket
from dora.exchange.credentials import Credentials
from dora.exchange.endpoints import AMEND_ORDER
from dora.sim.engine.records import CreateOrder
from tests.conftest import BotEnv

EXPIRY_S = 60  # a renewal is due in the last 20 s
STEP_MS = 5_000
AMEND = "POST /portfolio/events/orders/{order_id}/amend"


def start(env: BotEnv, mode: Mode = Mode.BATCH, **settings: Any) -> Bot:
    bot = env.make_bot(mode, **{"order_expiry_s": EXPIRY_S, **settings})
    bot.startup()
    return bot


def amends_at_exchange(env: BotEnv) -> int:
    return int(env.sim_counters()["requests"].get(AMEND, 0))


def engine_count(env: BotEnv, name: str) -> int:
    with env.sim.lock:
        return env.sim.engine.counters()[name]


def queue_ahead(env: BotEnv, user: str) -> dict[str, int]:
    with env.sim.lock:
        return {o: ahead for o, _, ahead in env.sim.engine.queue_positions(user, env.tickers)}


def join_behind(env: BotEnv) -> None:
    """Another trader rests the same size at each of dora's prices, behind dora's orders."""
    with env.sim.lock:
        env.sim.engine.open_account("rival", 10_000 * 1_000_000)
        for order in env.resting():
            env.sim.engine.create_order("rival", CreateOrder(
                ticker=order.ticker, side=order.side, price=order.price, count=order.remaining,
                time_in_force=TimeInForce.GTC, post_only=True,
                self_trade_prevention=SelfTradePrevention.TAKER_AT_CROSS))


def spy_renewals(bot: Bot) -> list[tuple[str, int]]:
    """(order id, dora's clock) of every renewal the bot sends; changes nothing."""
    sent: list[tuple[str, int]] = []
    renew = bot.client.renew_order

    def spy(order: RestingOrder, expiration_s: int) -> Any:
        sent.append((order.order_id, bot.clock.now_ms()))
        return renew(order, expiration_s)

    bot.executor._writer.renew_order = spy  # type: ignore[method-assign]
    return sent


@pytest.mark.parametrize("mode", [Mode.BATCH, Mode.PER_MARKET])
def test_kept_orders_are_renewed_before_lapsing_and_keep_their_queue_place(
        bot_env_factory: Any, mode: Mode) -> None:
    env = bot_env_factory(markets=2, flow=False)
    bot = start(env, mode)
    env.cycles(bot, 1, STEP_MS)
    join_behind(env)
    first = {o.order_id: o.expiration_s for o in env.resting()}
    ahead = queue_ahead(env, "dora")
    rival_ahead = queue_ahead(env, "rival")
    summaries = env.cycles(bot, 4 * EXPIRY_S * 1000 // STEP_MS, STEP_MS)  # four expiry periods
    now = {o.order_id: o.expiration_s for o in env.resting()}
    assert len(first) == 4 and set(now) == set(first)  # the same orders rest all along
    assert all(now[o] >= first[o] + 3 * EXPIRY_S for o in first)
    assert engine_count(env, "expirations") == 0
    assert queue_ahead(env, "dora") == ahead  # nobody got ahead of dora
    assert queue_ahead(env, "rival") == rival_ahead
    assert sum(s.renewed for s in summaries) == amends_at_exchange(env) >= 3 * len(first)
    assert sum(s.placed + s.cancelled + s.renew_failed for s in summaries) == 0


def test_renewals_never_exceed_the_cycle_budget(bot_env_factory: Any) -> None:
    """Twelve markets' quotes, all placed in one cycle, all come due together: a basic-tier
    client renews at most half its spare write tokens' worth a cycle, never waits for tokens
    and never draws a 429, and still renews every order before it lapses."""
    env = bot_env_factory(markets=12, flow=False)
    key = Path(env.sim.private_key_path or "").read_bytes()
    env.client = build_client(Connection(env.sim.url, Credentials.from_pem(env.sim.key_id, key)),
                              "basic", env.clock)
    bot = start(env, order_expiry_s=120)
    sent = spy_renewals(bot)
    per_cycle: list[int] = []
    for _ in range(3 * 120 * 1000 // STEP_MS):
        before = len(sent)
        env.cycles(bot, 1, STEP_MS)
        per_cycle.append(len(sent) - before)
    budget = bot.client.limiter.capacity(Bucket.WRITE) // 2 // AMEND_ORDER.cost()
    assert budget == 4  # 95 usable basic-tier write tokens, 10 an amend
    assert max(per_cycle) == budget and sum(per_cycle) >= 2 * 24
    assert sum(s.rate_limited for s in bot.summaries) == 0
    assert engine_count(env, "expirations") == 0
    assert any(s.renew_deferred for s in bot.summaries)  # the budget did hold some back


def test_a_lost_renewal_answer_is_neither_sent_twice_nor_left_to_lapse(
        bot_env_factory: Any) -> None:
    """The amend applies but its answer is lost (a 503 or a dropped connection), and the
    listing lags two and a half cycles: dora amends no order twice for one expiry, and none
    lapses."""
    env = bot_env_factory(markets=2, flow=False, lag_ms=5_000, seed=11)
    bot = start(env)
    sent = spy_renewals(bot)
    env.cycles(bot, 1, 2_000)
    placed = {o.order_id for o in env.resting()}
    env.set_knobs(lost_response_rate="1/2")  # only renewals write in this steady state
    summaries = env.cycles(bot, 3 * EXPIRY_S // 2, 2_000)
    lost_renewals = sum(s.renew_unknown for s in summaries)
    by_order: dict[str, list[int]] = defaultdict(list)
    for order_id, at_ms in sent:
        by_order[order_id].append(at_ms)
    assert lost_renewals > 0 and set(by_order) == placed
    for times in by_order.values():  # each renewal buys 40 s before the next one is due
        assert all(b - a >= (EXPIRY_S - EXPIRY_S // 3) * 1000 for a, b in pairwise(times))
    assert len(sent) == amends_at_exchange(env)
    assert engine_count(env, "expirations") == 0
    assert {o.order_id for o in env.resting()} == placed


@pytest.mark.parametrize("refusal", ["refused", "no_endpoint"])
def test_without_expiry_amends_orders_lapse_and_are_placed_again(
        bot_env_factory: Any, refusal: str) -> None:
    """The fallback: a few refused tries, then today's behaviour (lapse, place again), with no
    further amend however long dora runs."""
    env = bot_env_factory(markets=2, flow=False)
    env.set_knobs(amend_expiry=refusal)
    bot = start(env)
    summaries = env.cycles(bot, 5 * EXPIRY_S * 1000 // STEP_MS, STEP_MS)
    tried = amends_at_exchange(env)
    assert 0 < tried <= max(REFUSALS_BEFORE_FALLBACK, 4)
    assert bot.quoter.renewals is not None and not bot.quoter.renewals.enabled
    assert engine_count(env, "expirations") >= 3 * 4  # every period's quotes lapsed
    assert sum(s.placed for s in summaries) >= 3 * 4  # and were placed again
    bot.run_cycle()
    assert {o.ticker for o in env.resting()} == set(env.tickers)
    assert tried == sum(s.renew_failed for s in summaries)
