"""Position closing against the local exchange: every assertion is on the exchange's own
positions. Each scenario holds a position that dora's quoting alone would never trade out of, so
each test fails without the rule it is about.

"Frozen" markets: a configured fair value far above the market (the classic strategy then asks at
95c, where nobody buys) and ``max_inventory_yes`` at the position (no bid): only a close can move
the position. ``close_max_slippage`` 0.90 lets a close walk from 95c down to the book.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

import requests

from dora.bot.loop import Bot
from dora.bot.state import Mode
from dora.core.models import SelfTradePrevention, Side, TimeInForce
from dora.sim.engine.records import CreateOrder
from tests.conftest import BotEnv

C = 100
_manual = count()
FROZEN: dict[str, Any] = {"fair_value": Decimal("0.95"), "close_max_slippage": Decimal("0.90")}


def reprice(env: BotEnv, ticker: str, fair_value: int) -> None:
    """Move the outside makers' fair value and let them re-quote around it at once."""
    with env.sim.lock:
        env.sim.engine.set_fair_value(ticker, fair_value)
        env.sim.engine.seed_book(ticker)


def buy_for_dora(env: BotEnv, ticker: str, contracts: int) -> None:
    """Take the offer for dora's account by hand, as an operator would (not one of dora's
    orders): dora holds a position it did not open itself."""
    with env.sim.lock:
        best_ask = env.sim.engine.book(ticker)[1][0][0]
        env.sim.engine.create_order("dora", CreateOrder(
            ticker=ticker, side=Side.BID, price=min(best_ask + 300, 9_900),
            count=contracts * C, time_in_force=TimeInForce.IOC,
            self_trade_prevention=SelfTradePrevention.TAKER_AT_CROSS,
            client_order_id=f"manual-{next(_manual)}",
        ))


def held(env: BotEnv, ticker: str) -> int:
    with env.sim.lock:
        positions = {p.ticker: p.position for p in env.sim.engine.positions("dora")}
    return positions.get(ticker, 0)


def configure(env: BotEnv, ticker: str, **fields: Any) -> None:
    item = env.store.get_market_config_item(ticker) or {"market_id": ticker}
    env.store.put_market_config_item({**item, **fields})


def control(env: BotEnv, path: str, body: dict[str, Any]) -> None:
    requests.post(f"{env.sim.control_url}{path}", json=body, timeout=5).raise_for_status()


def trade_log_has_taker(env: BotEnv) -> bool:
    return any(item.get("is_taker") for item in env.store._table("dora_trade_log").scan()["Items"])


def run_until_flat(env: BotEnv, bot: Bot, ticker: str, cycles: int) -> int:
    """Cycles until dora holds nothing in ``ticker`` on the exchange; how many it took."""
    for n in range(1, cycles + 1):
        env.cycles(bot, 1)
        if held(env, ticker) == 0:
            return n
    return -1


def test_a_position_is_walked_out_before_a_moved_close_time(bot_env_factory: Any) -> None:
    env = bot_env_factory(markets=1, seed=3)
    ticker = env.tickers[0]
    configure(env, ticker, **FROZEN, max_inventory_yes=Decimal("6"), urgent_before_s=Decimal(30))
    buy_for_dora(env, ticker, 6)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 5)
    assert held(env, ticker) == 6 * C  # frozen: quoting alone does not trade it
    control(env, f"/markets/{ticker}/close_time", {"close_in_s": 120})
    took = run_until_flat(env, bot, ticker, 115)
    assert 0 < took < 90  # flat while still walking out passively, before it turned urgent
    env.cycles(bot, 125 - took)
    with env.sim.lock:
        assert env.sim.engine.market(ticker).status.value == "closed"
    assert held(env, ticker) == 0


def test_a_stop_loss_fires_after_the_fair_value_moves_against_dora(bot_env_factory: Any) -> None:
    env = bot_env_factory(markets=1, flow=False, seed=5)  # a static book: nobody trades
    ticker = env.tickers[0]
    configure(env, ticker, stop_loss=Decimal("2.00"))
    reprice(env, ticker, 5_000)
    buy_for_dora(env, ticker, 10)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 4)
    assert held(env, ticker) == 10 * C  # down the spread and the fee, but not $2
    reprice(env, ticker, 2_500)  # the outside makers re-quote 25c lower
    assert run_until_flat(env, bot, ticker, 6) > 0
    env.cycles(bot, 4)  # the closing fill reaches dora: a taker fill, as an urgent close is
    assert trade_log_has_taker(env)
    records = [r for r in env.store._table("dora_decision_log").scan()["Items"]
               if r.get("market_id") == ticker and r.get("reason") == "close:stop_loss"]
    assert records and records[0]["position_close"]["immediate"] is True


def test_low_cash_closes_the_worst_position_first_and_just_enough(bot_env_factory: Any) -> None:
    env = bot_env_factory(markets=2, seed=9, starting_cash=30_000_000)
    worse, better = env.tickers
    for ticker in env.tickers:
        configure(env, ticker, **FROZEN, max_inventory_yes=Decimal("10"))
        reprice(env, ticker, 5_000)
        buy_for_dora(env, ticker, 10)
    reprice(env, worse, 3_500)
    with env.sim.lock:
        free_now = env.sim.engine.balance("dora").balance
    env.store.set_global_fields({"min_cash_reserve": Decimal(free_now + 2_000_000) / 10**6})
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 80)
    assert held(env, better) == 10 * C  # the better position is left alone
    assert 0 < held(env, worse) < 10 * C  # the worse one shrank, and only as far as needed
    with env.sim.lock:
        assert env.sim.engine.balance("dora").balance >= free_now + 2_000_000


def test_a_stuck_position_is_walked_out(bot_env_factory: Any) -> None:
    env = bot_env_factory(markets=1, seed=4)
    ticker = env.tickers[0]
    configure(env, ticker, **FROZEN, max_inventory_yes=Decimal("5"), max_hold_s=Decimal(30))
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    buy_for_dora(env, ticker, 5)
    env.cycles(bot, 25)
    assert held(env, ticker) == 5 * C  # held 25 s: not stuck yet
    assert run_until_flat(env, bot, ticker, 120) > 0


def test_a_disabled_market_is_closed_only_with_close_on_disable(bot_env_factory: Any) -> None:
    env = bot_env_factory(markets=1, seed=6)
    ticker = env.tickers[0]
    configure(env, ticker, **FROZEN, enabled=False)
    buy_for_dora(env, ticker, 4)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 30)
    assert held(env, ticker) == 4 * C  # today's behaviour: a disabled market is left alone
    configure(env, ticker, close_on_disable=True)
    assert run_until_flat(env, bot, ticker, 120) > 0
