"""One active instance per shard, end to end in one process: bots on the local exchange and the
local DynamoDB endpoint with a shared fake clock, judged from the exchange's own orders."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import requests

from dora.bot.loop import Bot
from dora.bot.state import Mode
from dora.core.diff import Plan
from dora.core.errors import LeaseLostError, StoreError, TransientError
from dora.core.fencing import order_tag
from dora.core.models import OrderRequest, OrderStatus, Side
from dora.core.order_groups import TriggeredBy
from dora.core.shards import ShardId, ShardPlan, lease_key
from tests.conftest import BotEnv

PREFIX = "dora-"


def dora_orders(env: BotEnv) -> list[Any]:
    with env.sim.lock:
        return [o for o in env.sim.engine.orders("dora", status=None)
                if o.client_order_id.startswith(PREFIX)]


def resting_tags(env: BotEnv) -> dict[str, set[tuple[int, int]]]:
    """ticker -> the (epoch, shard) tags of dora's orders resting there."""
    tags: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for order in dora_orders(env):
        if order.status is OrderStatus.RESTING:
            tag = order_tag(order.client_order_id, PREFIX)
            assert tag is not None, f"an untagged order: {order.client_order_id}"
            tags[order.ticker].add(tag)
    return dict(tags)


def round_robin(env: BotEnv, bots: list[Bot], cycles: int, step_ms: int = 500) -> None:
    for _ in range(cycles):
        for bot in bots:
            bot.run_cycle()
        env.clock.advance_ms(step_ms)


def started_pair(env: BotEnv, cycles: int = 2) -> tuple[Bot, Bot]:
    """Two bots started one after the other; the first takes the lease."""
    first, second = env.make_bot(Mode.BATCH), env.make_bot(Mode.BATCH)
    first.startup()
    second.startup()
    round_robin(env, [first, second], cycles)
    return first, second


def test_two_bots_started_together_exactly_one_quotes(bot_env_factory) -> None:
    env = bot_env_factory(markets=2, flow=False)
    first, second = started_pair(env, cycles=4)
    holders = [b for b in (first, second) if b.lease.held is not None]
    assert len(holders) == 1
    standby = second if holders[0] is first else first
    assert all(s.role == "standby" and s.placed == 0 for s in standby.summaries)
    tags = resting_tags(env)
    assert set(tags) == set(env.tickers)
    assert all(t == {(1, 0)} for t in tags.values())  # one epoch, one process's orders
    assert len(env.resting()) == 2 * len(env.tickers)


def test_a_clean_stop_hands_over_within_a_cycle_and_leaves_nothing_of_its_epoch(
    bot_env_factory,
) -> None:
    env = bot_env_factory(markets=2, flow=False)
    holder, standby = started_pair(env)
    holder.shutdown(reason="stop")
    assert not any(t == 1 for tags in resting_tags(env).values() for t, _ in tags)
    summary = standby.run_cycle()  # the very next cycle takes over and quotes
    assert summary.role == "holder" and summary.epoch == 2 and summary.placed > 0
    assert resting_tags(env) == {t: {(2, 0)} for t in env.tickers}


def test_a_dead_holder_is_replaced_after_its_lease_and_its_quotes_fenced_by_the_exchange(
    bot_env_factory,
) -> None:
    env = bot_env_factory(markets=2, flow=False)
    _dead, standby = started_pair(env)  # the first never runs again: killed
    old = {o.order_id for o in env.resting()}
    assert old
    for _ in range(19):  # the dead holder's lease (20 s) has not run out yet
        standby.run_cycle()
        env.clock.advance_ms(1000)
    assert standby.lease.held is None and {o.order_id for o in env.resting()} == old
    env.clock.advance_ms(1000)
    summary = standby.run_cycle()
    assert summary.role == "holder" and summary.epoch == 2
    counters = env.sim_counters()
    assert counters["engine"]["group_triggers"] >= 1
    with env.sim.lock:
        statuses = {env.sim.engine.order("dora", i).status for i in old}
    assert statuses == {OrderStatus.CANCELED}  # the exchange cancelled them: the group trigger
    assert resting_tags(env) == {t: {(2, 0)} for t in env.tickers}


def test_a_holder_frozen_past_its_lease_places_nothing_and_cannot_save(bot_env_factory) -> None:
    env = bot_env_factory(markets=2, flow=False)
    frozen, standby = started_pair(env)
    for _ in range(25):  # frozen: only the standby runs, and takes over
        standby.run_cycle()
        env.clock.advance_ms(1000)
    assert standby.lease.held is not None and standby.lease.epoch == 2
    before = {o.order_id for o in dora_orders(env)}
    saved = env.store.load_state()

    # resumed: before it notices anything, a place and a state save are both refused
    request = OrderRequest(env.tickers[0], Side.BID, 100, 100, "dora-e1s0-frozen-1-x-b0")
    report = frozen.executor.execute(Plan(places=(request,)), {}, batch=True)
    assert report.placed == 0 and report.place_rejected == 1
    assert report.events[0]["error_code"] == "lease_not_held"  # never sent (else the exchange
    # would refuse it too: its group was triggered by the successor)
    try:
        frozen.persister.save_state(frozen.state)
        raise AssertionError("a stale holder saved its state")
    except LeaseLostError:
        pass
    summary = frozen.run_cycle()  # its renewal fails: it stands by
    assert summary.role == "standby" and summary.placed == 0
    assert {o.order_id for o in dora_orders(env)} == before
    assert env.store.load_state().versions == saved.versions


def test_a_holder_that_lost_its_lease_takes_no_other_during_its_stop(bot_env_factory) -> None:
    """A hangs past its lease and C takes its shard; B stops cleanly, leaving its lease free;
    then A is stopped. A's stop steps renew what A holds (nothing) and never take B's free
    lease: holding it without a view of any shard, A would cancel C's quotes as its own."""
    env = bot_env_factory(markets=8, flow=False)
    a, b, c = (env.make_bot(Mode.BATCH, shards=2) for _ in range(3))
    for bot in (a, b, c):
        bot.startup()
    round_robin(env, [a, b, c], 2)
    assert a.lease.held is not None and b.lease.held is not None and c.lease.held is None
    hung = a.lease.shard
    round_robin(env, [b, c], 24, step_ms=1000)  # a hangs; c takes its shard
    assert c.lease.shard == hung and c.lease.epoch == 2
    b.shutdown(reason="stop")
    before = resting_tags(env)
    assert before and all(tags == {(2, hung.index)} for tags in before.values())

    a.shutdown(reason="stop")
    assert a.lease.held is None
    assert resting_tags(env) == before  # c's quotes, untouched


def test_a_take_over_retried_before_it_read_the_state_saves_nothing_over_it(
    bot_env_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first take-over read the stored state and failed at its last save; the next one
    starts afresh and fails before reading it (the exchange refuses to trigger an old group).
    Neither the halt for the errors in a row nor the stop may then save that empty state over
    the stored positions, fills and the operator's halt."""
    env = bot_env_factory(markets=3)
    first = env.make_bot(Mode.BATCH)
    first.startup()
    env.cycles(first, 25)
    first.shutdown(reason="stop")
    operator = env.operator_store()
    operator.save_risk_state(replace(operator.load_state().risk, trading_halted=True,
                                     halt_reason="operator: news"))
    stored = env.operator_store().load_state()
    assert any(p.net for p in stored.positions.values()) and stored.recent_fills

    bot = env.make_bot(Mode.BATCH)
    real_save, failed = bot.persister.save_state, []

    def save_failing_once(state: Any) -> None:
        if not failed:
            failed.append(True)
            raise StoreError("DynamoDB answered 500")
        real_save(state)

    def exchange_refuses(limit: int) -> None:
        raise TransientError("exchange 503")

    monkeypatch.setattr(bot.persister, "save_state", save_failing_once)
    bot.startup()  # the first take-over: the state read, its last save failed
    assert bot.lease.held is not None and not bot.taken_over
    monkeypatch.setattr(bot.handover.groups, "start_epoch", exchange_refuses)
    for _ in range(bot.state.global_config.max_consecutive_errors + 1):
        bot._guarded_cycle()  # the retries: a fresh state, failing before it is read (a halt
    assert not bot.taken_over  # for too many errors in a row too)

    bot.shutdown(reason="stop")
    after = env.operator_store().load_state()
    assert after.positions == stored.positions and after.recent_fills == stored.recent_fills
    assert after.risk.trading_halted and after.risk.halt_reason == "operator: news"


def _group_limit(env: BotEnv, contracts: str, policy: str = "auto") -> None:
    env.store.set_global_fields({"max_matched_contracts_15s": Decimal(contracts),
                                 "order_group_reset": policy,
                                 "order_group_cooloff_s": Decimal(30)})


def _fill_storm(env: BotEnv) -> None:
    response = requests.post(f"{env.sim.control_url}/flow", timeout=5,
                             json={"enabled": True, "taker_rate_per_s": "20"})
    response.raise_for_status()


def _creates_sent(env: BotEnv) -> int:
    """Order-writing POSTs the exchange received (creates, batches or single, and amends)."""
    requests_by_route = env.sim_counters()["requests"]
    return sum(n for route, n in requests_by_route.items()
               if route.startswith("POST") and "orders" in route)


def _calm(env: BotEnv) -> None:
    response = requests.post(f"{env.sim.control_url}/flow", timeout=5, json={"enabled": False})
    response.raise_for_status()


def _run_until_triggered(env: BotEnv, bot: Bot, cycles: int = 200) -> None:
    for _ in range(cycles):
        bot.run_cycle()
        env.clock.advance_ms(250)
        if bot.group_triggered:
            return
    raise AssertionError("the fill storm never hit the group's limit")


def test_a_fill_storm_past_the_limit_pulls_every_quote_and_auto_resets(bot_env_factory) -> None:
    env = bot_env_factory(markets=3)
    _group_limit(env, "6")
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    _fill_storm(env)
    _run_until_triggered(env, bot)
    group = bot.handover.groups.group_id
    assert env.sim_counters()["engine"]["group_triggers"] >= 1
    assert not [o for o in env.resting() if o.order_group_id == group]  # all cancelled
    for _ in range(20):  # 10 s into the 30 s cool-off: nothing placed
        summary = bot.run_cycle()
        env.clock.advance_ms(500)
        assert summary.placed == 0 and summary.group_triggered
    env.clock.advance_ms(20_000)
    bot.run_cycle()
    summary = bot.run_cycle()
    assert not summary.group_triggered and env.resting()  # reset: quoting again


@pytest.mark.parametrize("seed", [1, 3])
def test_under_read_lag_a_fill_storm_past_the_limit_loses_no_fill_and_places_nothing_in_the_cooloff(
    bot_env_factory, seed: int,
) -> None:
    """The listings lag three cycles behind (750 ms at 250 ms a cycle): dora learns of the
    storm's fills, and of the trigger that cancelled its quotes, late. Judged by the exchange:
    its group triggered, no order of dora's was created in the cool-off, and once the lag has
    passed dora's fills and positions are the exchange's."""
    env = bot_env_factory(markets=3, lag_ms=750, seed=seed)
    _group_limit(env, "6")
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    _fill_storm(env)
    _run_until_triggered(env, bot)
    assert env.sim_counters()["engine"]["group_triggers"] >= 1
    _calm(env)  # the storm is over: what follows is only the lag catching up
    created, creates_sent = len(dora_orders(env)), _creates_sent(env)
    assert creates_sent > 0
    for _ in range(20):  # 10 s of the 30 s cool-off
        bot.run_cycle()
        env.clock.advance_ms(500)
    assert len(dora_orders(env)) == created
    assert _creates_sent(env) == creates_sent  # nor sent for the exchange to refuse
    with env.sim.lock:
        fills = env.sim.engine.fills("dora")
        positions = {p.ticker: p.position for p in env.sim.engine.positions("dora")}
    assert sum(f.count for f in fills) >= 600  # the limit of 6 contracts reached
    assert bot.state.fills_total == len(fills)
    assert {t: p.net for t, p in bot.state.positions.items() if p.net} == {
        t: n for t, n in positions.items() if n}
    env.clock.advance_ms(20_000)
    for _ in range(6):  # past the cool-off and the lag: quoting again, once per side
        bot.run_cycle()
        env.clock.advance_ms(250)
    assert not bot.group_triggered and env.resting()
    assert len(env.resting()) <= 2 * len(env.tickers)


def test_a_manual_group_stays_closed_until_the_operator_resets_it(bot_env_factory) -> None:
    env = bot_env_factory(markets=3)
    _group_limit(env, "6", policy="manual")
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    _fill_storm(env)
    _run_until_triggered(env, bot)
    assert bot.handover.groups.triggered_by in (TriggeredBy.FILLS, TriggeredBy.REFUSED)
    env.clock.advance_ms(120_000)
    for _ in range(5):
        assert bot.run_cycle().placed == 0
    group = bot.handover.groups.group_id
    assert env.store.leases.request_group_reset(lease_key(0), group, env.clock.now_ms())
    bot.lease.renew()  # its next renewal brings the request (any cycle's would)
    summary = bot.run_cycle()
    assert not summary.group_triggered and summary.placed > 0


def test_three_shards_quote_each_market_once_and_a_dead_one_is_taken_over(
    bot_env_factory,
) -> None:
    env = bot_env_factory(markets=12, flow=False)
    bots = [env.make_bot(Mode.BATCH, shards=3) for _ in range(4)]
    for bot in bots:
        bot.startup()
    holders, standby = bots[:3], bots[3]
    assert all(b.lease.held is not None for b in holders) and standby.lease.held is None
    round_robin(env, bots, 3)
    tags = resting_tags(env)
    assert set(tags) == set(env.tickers)
    plans = {}
    for index in range(3):
        plans[index] = ShardPlan(ShardId(index, 3))
    for ticker, found in tags.items():
        ((_, shard),) = found  # exactly one process's orders per market
        assert plans[shard].owns(ticker)
    assert len({shard for found in tags.values() for _, shard in found}) == 3

    dead = holders[0]
    dead_shard = dead.lease.shard
    assert dead_shard is not None
    alive = [*holders[1:], standby]
    for _ in range(21):
        for bot in alive:
            bot.run_cycle()
        env.clock.advance_ms(1000)
    assert standby.lease.shard == dead_shard and standby.lease.epoch == 2
    round_robin(env, alive, 2)
    tags = resting_tags(env)
    assert set(tags) == set(env.tickers)
    for found in tags.values():
        assert len(found) == 1
        ((epoch, shard),) = found
        assert epoch == (2 if shard == dead_shard.index else 1)
