"""Per-market circuit breakers and markets the exchange refuses, against the local exchange.

The broken market: dora quotes it on a tenth-of-a-cent grid (a configured fair value of $0.5555
puts its quotes between cents); then the exchange changes the market's grid to whole cents under
dora, which refreshes market rules only every 1000 cycles here, so every place there is refused
(``invalid_price``) until dora learns the new grid. Assertions are on the exchange's record.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dora.bot.state import Mode
from dora.core.breaker import BreakerState
from tests.bot.lifecycle_helpers import configure, control, flags, resting_by_market
from tests.conftest import BotEnv


def count_refusals(env: BotEnv) -> dict[str, int]:
    """Wrap the engine's create so every refusal is counted per market (the exchange's own
    record of what it refused)."""
    engine = env.sim.engine
    create = engine.create_order
    refused: dict[str, int] = {}

    def counting(user_id: str, req: Any) -> Any:
        try:
            return create(user_id, req)
        except Exception:
            refused[req.ticker] = refused.get(req.ticker, 0) + 1
            raise

    engine.create_order = counting  # type: ignore[method-assign]
    return refused


def change_grid_under_dora(env: BotEnv, ticker: str) -> None:
    """The market moves to whole cents, and dora's quotes there end (as an expiry would end
    them): dora places them again, off the new grid, until it learns the grid."""
    control(env, f"/markets/{ticker}/price_level_structure",
            {"price_level_structure": "linear_cent"})
    with env.sim.lock:
        for order in env.resting():
            if order.ticker == ticker:
                env.sim.engine.cancel_order("dora", order.order_id)


def broken_market_env(bot_env_factory: Any) -> tuple[BotEnv, str]:
    env = bot_env_factory(markets=3, flow=False)
    broken = env.tickers[0]
    control(env, f"/markets/{broken}/price_level_structure", {"price_level_structure": "deci_cent"})
    configure(env, broken, fair_value=Decimal("0.5555"))
    flags(env, config_refresh_cycles=1000, breaker_failures=4, breaker_cooloff_s=8,
          breaker_cooloff_max_s=60)
    return env, broken


def test_a_market_whose_orders_are_all_refused_trips_its_breaker_and_recovers(
    bot_env_factory: Any,
) -> None:
    env, broken = broken_market_env(bot_env_factory)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    assert resting_by_market(env).keys() == set(env.tickers)
    prices = {o.price for o in env.resting() if o.ticker == broken}
    assert any(p % 100 for p in prices), f"quotes on whole cents: the test needs {prices} off them"
    refused = count_refusals(env)
    change_grid_under_dora(env, broken)
    tripped_at = None
    for _ in range(12):
        env.cycles(bot, 1)
        if bot.state.breakers.get(broken) and bot.state.breakers[broken].state is BreakerState.OPEN:
            tripped_at = bot.cycle
            break
    assert tripped_at is not None, f"never tripped; refused {refused}"
    env.cycles(bot, 1)  # the next cycle takes dora's orders in the broken market down
    held = resting_by_market(env)
    assert held[broken] == 0
    assert all(held[t] > 0 for t in env.tickers if t != broken)  # the others kept trading
    refused_at_trip = refused.get(broken, 0)
    assert refused_at_trip <= 4 + 2  # the threshold, and at most one batch's worth more
    for _ in range(20):  # cool-off 8 s; half-open tries the market on the grid it re-read
        env.cycles(bot, 1)
        if resting_by_market(env)[broken]:
            break
    assert resting_by_market(env)[broken] > 0, "never recovered"
    assert refused.get(broken, 0) == refused_at_trip  # nothing refused after the trip
    env.cycles(bot, 2)
    assert bot.state.breakers.get(broken) is None or (
        bot.state.breakers[broken].state is BreakerState.CLOSED)


def test_a_market_paused_alone_is_held_while_every_other_market_trades(
    bot_env_factory: Any,
) -> None:
    """The exchange pauses one market (its trading is active): the refusal is that market's
    state. dora re-reads it, places nothing there, keeps quoting the others, and trades it again
    once it is open."""
    env = bot_env_factory(markets=3, flow=False)
    paused = env.tickers[1]
    flags(env, config_refresh_cycles=1000)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    refused = count_refusals(env)
    control(env, f"/markets/{paused}/pause", {})
    with env.sim.lock:  # dora's quotes there end with the pause (cancel_order_on_pause)
        assert not any(o.ticker == paused for o in env.resting())
    env.cycles(bot, 6)
    assert refused.get(paused, 0) <= 2  # the first cycle's two places, then nothing
    held = resting_by_market(env)
    assert held[paused] == 0 and all(held[t] for t in env.tickers if t != paused)
    assert bot.lifecycle.may_quote()  # the exchange as a whole still trades
    control(env, f"/markets/{paused}/resume", {})
    for _ in range(40):  # held for 30 s, then tried again on re-read rules
        env.cycles(bot, 1)
        if resting_by_market(env)[paused]:
            break
    assert resting_by_market(env)[paused] > 0
