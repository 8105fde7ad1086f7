"""Recalibration against the local exchange and DynamoDB: drift in cash, resting orders and
positions is found and corrected; operator flags take effect within a cycle."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from dora.bot.state import Mode
from dora.core.models import PositionState, SelfTradePrevention, Side, TimeInForce
from dora.sim.engine.records import CreateOrder
from tests.bot.lifecycle_helpers import flags, resting_by_market
from tests.conftest import BotEnv

C = 100  # one contract


def truth_free_cash(env: BotEnv) -> int:
    with env.sim.lock:
        return env.sim.engine.balance("dora").balance


def lose_every_answer_for_one_cycle(env: BotEnv, bot: Any) -> None:
    """The exchange applies this cycle's creates and the answers never arrive."""
    env.set_knobs(lost_response_rate="1", lost_response_mode="drop")
    env.cycles(bot, 1)
    env.set_knobs(lost_response_rate="0")


def test_cash_drift_from_promises_the_balance_already_shows_is_found_and_corrected(
    bot_env_factory: Any,
) -> None:
    """Creates whose answers were lost are promised until a balance after the time they may
    still have taken effect. The exchange stamps the balance with its last change, which came
    before that; in a quiet market nothing changes it again, so without the recalibration's
    check dora undercounts its free cash for good."""
    env = bot_env_factory(markets=2, flow=False)
    flags(env, recalibrate_every_s=40)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    lose_every_answer_for_one_cycle(env, bot)
    env.cycles(bot, 20)  # quiet: the lost creates rest, nothing else changes the balance
    assert resting_by_market(env).keys() == set(env.tickers)
    view = bot.state.cash_view()
    assert view is not None and view.free < truth_free_cash(env), "no drift to correct"
    env.cycles(bot, 25)  # a recalibration runs
    view = bot.state.cash_view()
    assert view is not None and view.free == truth_free_cash(env)


def test_orders_of_dora_it_did_not_place_are_adopted_or_cancelled(bot_env_factory: Any) -> None:
    """A create whose answer was lost took effect: dora never learnt its order id. The ones that
    still match a target are adopted (a fill of one is attributed to dora's decisions in the
    execution log); a dora order matching no target is cancelled; an operator's order, without
    dora's prefix, is never touched."""
    env = bot_env_factory(markets=2, flow=False)
    flags(env, recalibrate_every_s=15)
    ticker = env.tickers[0]
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    lose_every_answer_for_one_cycle(env, bot)
    stray = place_for_dora(env, ticker, Side.BID, 500, "dora-earlier-run-b0")
    manual = place_for_dora(env, ticker, Side.BID, 600, "manual-operator-1")
    env.cycles(bot, 20)
    adopted = {o.order_id for o in env.resting() if o.ticker == ticker}
    assert adopted and all(bot.state.decision_ids[i].startswith("adopted:") for i in adopted)
    with env.sim.lock:
        assert env.sim.engine.order("dora", stray).status.value == "canceled"
        assert env.sim.engine.order("dora", manual).status.value == "resting"
    bid = max((o for o in env.resting() if o.ticker == ticker and o.side is Side.BID),
              key=lambda o: o.price)
    take(env, ticker, Side.ASK, bid.price, bid.remaining)
    env.cycles(bot, 2)
    fills = [i for i in env.store._table("dora_execution_log").scan()["Items"]
             if i.get("event_type") == "FILL" and i.get("order_id") == bid.order_id]
    assert fills and all(str(i.get("decision_id", "")).startswith("adopted:") for i in fills)


def place_for_dora(env: BotEnv, ticker: str, side: Side, price: int, client_id: str) -> str:
    with env.sim.lock:
        order = env.sim.engine.create_order("dora", CreateOrder(
            ticker=ticker, side=side, price=price, count=2 * C,
            time_in_force=TimeInForce.GTC, client_order_id=client_id,
            self_trade_prevention=SelfTradePrevention.TAKER_AT_CROSS, post_only=True))
    return str(order.order_id)


def take(env: BotEnv, ticker: str, side: Side, price: int, count: int) -> None:
    """Another trader takes dora's quote."""
    with env.sim.lock:
        env.sim.engine.open_account("taker", 1_000_000_000)
        env.sim.engine.create_order("taker", CreateOrder(
            ticker=ticker, side=side, price=price, count=count,
            time_in_force=TimeInForce.IOC, client_order_id="taker-1",
            self_trade_prevention=SelfTradePrevention.TAKER_AT_CROSS))


def test_a_position_dora_holds_wrongly_is_corrected_to_the_exchanges(
    bot_env_factory: Any,
) -> None:
    """dora's stored position says 7 contracts; the exchange holds none (the item was written
    wrongly, by hand or by a crash between writes). The difference is watched, then adopted."""
    env = bot_env_factory(markets=1, flow=False)
    ticker = env.tickers[0]
    first = env.make_bot(Mode.BATCH)
    first.startup()
    env.cycles(first, 2)
    operator = env.operator_store()
    operator.load_state()
    operator.save_positions({ticker: PositionState(ticker, net=7 * C, open_cost=3_500_000)})
    bot = env.make_bot(Mode.BATCH, positions_every=2)
    env.start_after_a_kill(bot)  # the first never stopped: its lease runs out first
    assert bot.state.positions[ticker].net == 7 * C  # seen once: not trusted yet
    env.cycles(bot, 2)
    assert bot.state.positions[ticker].net == 0
    with env.sim.lock:
        assert {p.ticker: p.position for p in env.sim.engine.positions("dora")}.get(ticker, 0) == 0


def test_an_operator_halt_and_trading_enabled_take_effect_within_one_cycle(
    bot_env_factory: Any,
) -> None:
    """Configs refresh every 1000 cycles and state is saved every 1000: only the per-cycle read
    of the operator's items can carry the halt and the flag in time."""
    env = bot_env_factory(markets=2, flow=False)
    flags(env, config_refresh_cycles=1000)
    bot = env.make_bot(Mode.BATCH, save_every=1000)
    bot.startup()
    env.cycles(bot, 2)
    assert resting_by_market(env).keys() == set(env.tickers)
    operator = env.operator_store()
    risk = operator.load_state().risk
    operator.save_risk_state(replace(risk, trading_halted=True, halt_reason="operator test"))
    env.cycles(bot, 1)
    assert resting_by_market(env) == {}
    risk = operator.load_state().risk  # the bot saved its halt since
    operator.save_risk_state(replace(risk, trading_halted=False, halt_reason=""))
    env.cycles(bot, 1)
    assert resting_by_market(env).keys() == set(env.tickers)
    env.store.set_global_fields({"trading_enabled": False})
    with env.sim.lock:  # dora's quotes end (as expiries would end them)
        for order in env.resting():
            env.sim.engine.cancel_order("dora", order.order_id)
    env.cycles(bot, 2)
    assert resting_by_market(env) == {}  # nothing placed again
    env.store.set_global_fields({"trading_enabled": True, "max_daily_loss": Decimal("1000")})
    env.cycles(bot, 1)
    assert resting_by_market(env).keys() == set(env.tickers)
