"""End-to-end: the bot against the real local exchange and a moto DynamoDB endpoint."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal

from dora.bot.state import Mode
from dora.core.errors import TransientError
from dora.core.models import SelfTradePrevention, Side, TimeInForce
from dora.sim.engine.records import CreateOrder
from tests.conftest import BotEnv


def targets_are_unique(env: BotEnv) -> bool:
    per_target = Counter((o.ticker, o.side, o.price) for o in env.resting())
    return all(n == 1 for n in per_target.values())


def test_batch_run_quotes_both_sides_of_every_market(bot_env_factory):
    env = bot_env_factory(markets=3)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    summaries = env.cycles(bot, 3)
    resting = env.resting()
    assert {o.ticker for o in resting} == set(env.tickers)
    assert {o.side for o in resting} == {Side.BID, Side.ASK}
    assert summaries[0].placed >= 2 * len(env.tickers)
    assert targets_are_unique(env)


def test_batch_and_per_market_quote_the_same_targets(bot_env_factory):
    quotes = {}
    for mode in (Mode.BATCH, Mode.PER_MARKET):
        env = bot_env_factory(markets=2, flow=False)
        bot = env.make_bot(mode)
        bot.startup()
        env.cycles(bot, 2)
        quotes[mode] = sorted((o.ticker, o.side.value, o.price, o.remaining) for o in env.resting())
    assert quotes[Mode.BATCH] == quotes[Mode.PER_MARKET]
    assert quotes[Mode.BATCH]


def test_per_market_uses_single_order_calls_and_batch_uses_batches(bot_env_factory):
    calls = {}
    for mode in (Mode.BATCH, Mode.PER_MARKET):
        env = bot_env_factory(markets=3, flow=False)
        bot = env.make_bot(mode)
        bot.startup()
        before = env.client.stats.snapshot()
        bot.run_cycle()
        calls[mode] = {k: v.calls for k, v in env.client.stats.since(before).items()}
    assert calls[Mode.BATCH].get("POST /portfolio/events/orders/batched", 0) >= 1
    assert "POST /portfolio/events/orders" not in calls[Mode.BATCH]
    assert calls[Mode.PER_MARKET].get("POST /portfolio/events/orders", 0) >= 6
    assert "POST /portfolio/events/orders/batched" not in calls[Mode.PER_MARKET]


def test_flag_flip_switches_mode_mid_run(bot_env_factory):
    env = bot_env_factory(markets=2)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    assert bot.mode is Mode.BATCH
    env.store.set_global_fields({"use_batch_execution": False})
    env.cycles(bot, 2)  # config refresh every 2 cycles
    assert bot.mode is Mode.PER_MARKET
    env.store.set_global_fields({"use_batch_execution": True})
    env.cycles(bot, 2)
    assert bot.mode is Mode.BATCH


def test_read_lag_of_several_cycles_causes_no_needless_404s_and_no_duplicates(bot_env_factory):
    """The only cancels that find their order gone are fill races: orders outside traders
    filled after the lagging listing dora acted on (the exchange's record says so)."""
    env = bot_env_factory(markets=3, lag_ms=3500)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    for _ in range(20):
        env.cycles(bot, 1)
        assert targets_are_unique(env)
    races = sum(s.cancel_404_fill_race for s in bot.summaries)
    assert sum(s.already_gone for s in bot.summaries) == races
    gone = [a.order_id for a in env.sim.context.counters.cancel_answers()
            if a.outcome == "not_found"]
    assert len(gone) == races == env.sim_counters()["cancel_404"]
    with env.sim.lock:
        assert all(env.sim.engine.order("dora", o).status.value == "executed" for o in gone)


def test_with_read_lag_and_fills_resting_size_never_exceeds_the_targets(bot_env_factory):
    """After a partial fill the shortfall rests beside the partly filled order (by design); at
    no price may dora's resting size ever exceed what its own targets ask for."""
    env = bot_env_factory(markets=5, lag_ms=3500)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    targets: dict[tuple[str, Side, int], int] = {}
    quote_batch = bot.quoter.quote_batch

    def spy(*args, **kwargs):  # records the targets, changes nothing
        outcome = quote_batch(*args, **kwargs)
        targets.clear()
        for ticker, decision in outcome.decisions.items():
            for t in decision.targets:
                key = (ticker, t.side, t.price)
                targets[key] = targets.get(key, 0) + t.size
        return outcome

    bot.quoter.quote_batch = spy
    for _ in range(100):
        env.cycles(bot, 1)
        resting: Counter[tuple[str, Side, int]] = Counter()
        for order in env.resting():
            resting[(order.ticker, order.side, order.price)] += order.remaining
        assert all(size <= targets.get(key, 0) for key, size in resting.items())
    assert bot.state.fills_total > 0


def test_lost_create_response_leads_to_no_duplicate(bot_env_factory):
    env = bot_env_factory(markets=2, flow=False)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()  # the lease and its order group are in place before the answers get lost
    env.set_knobs(lost_response_rate="1")
    first = bot.run_cycle()
    assert first.failed >= 1  # outcome unknown: every create "lost" its response
    env.set_knobs(lost_response_rate=0)
    env.cycles(bot, 3)
    assert targets_are_unique(env)
    assert len(env.resting()) == 2 * len(env.tickers)


def test_caps_hold_while_getting_filled(bot_env_factory):
    env = bot_env_factory(markets=2)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 120)
    with env.sim.lock:
        positions = env.sim.engine.positions("dora")
    cap = 2000  # max_inventory 20 contracts
    assert bot.state.fills_total > 0
    assert all(-cap <= p.position <= cap for p in positions)


def test_halt_cancels_and_holds_until_resume(bot_env_factory):
    env = bot_env_factory(markets=2, flow=False)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    assert env.resting()
    operator = env.operator_store()
    risk = operator.load_state().risk
    operator.save_risk_state(replace(risk, trading_halted=True, halt_reason="operator"))
    env.cycles(bot, 3)
    assert env.resting() == []
    assert bot.state.risk.trading_halted
    assert bot.state.risk.halt_reason == "operator"
    risk = operator.load_state().risk
    operator.save_risk_state(replace(risk, trading_halted=False, halt_reason=""))
    env.cycles(bot, 3)
    assert env.resting()


def test_malformed_config_skips_only_that_market(bot_env_factory):
    env = bot_env_factory(markets=3, flow=False)
    bad = env.tickers[0]
    item = env.store.get_market_config_item(bad)
    env.store.put_market_config_item({**item, "quote_size": Decimal("-5")})
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    quoted = {o.ticker for o in env.resting()}
    assert bad not in quoted
    assert quoted == set(env.tickers[1:])


def test_restart_resumes_without_double_counting_fills(bot_env_factory):
    env = bot_env_factory(markets=2)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 120)
    bot.shutdown(reason="test")
    assert bot.state.fills_total > 0
    positions_before = {t: p.net for t, p in bot.state.positions.items()}
    pnl_before = bot.state.risk.daily_pnl
    restarted = env.make_bot(Mode.BATCH)
    restarted.startup()
    env.cycles(restarted, 1)
    assert {t: p.net for t, p in restarted.state.positions.items() if p.net} == {
        t: n for t, n in positions_before.items() if n
    }
    assert restarted.state.risk.daily_pnl == pnl_before


def test_first_start_adopts_exchange_positions_without_double_counting(bot_env_factory):
    env = bot_env_factory(markets=1, flow=False)
    ticker = env.tickers[0]
    with env.sim.lock:
        best_ask = env.sim.engine.book(ticker)[1][0][0]
        env.sim.engine.create_order("dora", CreateOrder(
            ticker=ticker, side=Side.BID, price=best_ask, count=300,
            time_in_force=TimeInForce.IOC,
            self_trade_prevention=SelfTradePrevention.TAKER_AT_CROSS,
            client_order_id="manual-1",
        ))
        held = {p.ticker: p.position for p in env.sim.engine.positions("dora")}
    assert held[ticker] == 300
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    assert bot.state.positions[ticker].net == 300


class FailingBalance:
    """The balance endpoint answers 503 while ``failing`` is set; every other call is real."""

    def __init__(self, env: BotEnv) -> None:
        self.failing = False
        self._real = env.client.fetch_balance
        env.client.fetch_balance = self  # type: ignore[method-assign]

    def __call__(self) -> object:
        if self.failing:
            raise TransientError("503 service unavailable")
        return self._real()


def trade_log_fill_ids(env: BotEnv) -> set[str]:
    table = env.store._table("dora_trade_log")
    return {item["fill_id"] for item in table.scan()["Items"]}


def test_a_read_that_keeps_failing_halts_and_takes_the_quotes_down(bot_env_factory):
    env = bot_env_factory(markets=2, flow=False)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    balance = FailingBalance(env)
    env.cycles(bot, 2)
    assert env.resting()
    balance.failing = True
    for _ in range(bot.state.global_config.max_consecutive_errors):
        bot._guarded_cycle()
        env.clock.advance_ms(1000)
    assert env.resting() == []
    assert bot.state.risk.trading_halted
    assert bot.state.risk.halt_reason.startswith("consecutive_errors")


def test_fills_of_a_cycle_that_failed_midway_still_reach_the_trade_log(bot_env_factory):
    env = bot_env_factory(markets=2)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    balance = FailingBalance(env)
    env.cycles(bot, 40)
    balance.failing = True
    for _ in range(30):  # fills arrive while every cycle fails after applying them
        bot._guarded_cycle()
        env.clock.advance_ms(1000)
    balance.failing = False
    env.cycles(bot, 1)
    assert bot.state.fills_total > 0
    assert len(trade_log_fill_ids(env)) == bot.state.fills_total


def test_per_market_mode_spends_the_free_cash_once_like_batch_mode(bot_env_factory):
    """$12 free buys about four of the six $2.50-ish quotes; per-market mode must not see the
    whole balance again in every market (the balance read lags dora's own places)."""
    placed = {}
    for mode in (Mode.BATCH, Mode.PER_MARKET):
        env = bot_env_factory(markets=3, flow=False, starting_cash=12_000_000)
        bot = env.make_bot(mode)
        bot.startup()
        summary = env.cycles(bot, 1)[0]
        assert summary.failed == 0  # the exchange refused nothing for lack of cash
        assert summary.placed < 2 * len(env.tickers)  # the cash really was short
        placed[mode] = summary.placed
    assert placed[Mode.BATCH] == placed[Mode.PER_MARKET]
