"""Strategies by name against the local exchange, and plug-ins found through entry points.

The plug-ins live in this test suite's own package (tests/bot/strategy_plugin.py). They are
"installed" the way pip installs any package: a ``*.dist-info`` directory with ``METADATA`` and an
``entry_points.txt`` naming them in the ``dora.strategies`` group, on ``sys.path``. dora then finds
them through the standard ``importlib.metadata`` lookup it uses in production; nothing in dora is
patched or told about them.
"""

from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dora.bot.state import Mode
from dora.bot.strategies import ENTRY_POINT_GROUP, StrategyRegistry
from dora.core.models import Side
from dora.core.strategies.classic import ClassicStrategy
from tests.bot.test_closing_e2e import buy_for_dora, configure
from tests.conftest import BotEnv

PLUGINS = {
    "inside": "tests.bot.strategy_plugin:InsideTheTouch",
    "failing": "tests.bot.strategy_plugin:FailsOnOneMarket",
    "greedy": "tests.bot.strategy_plugin:Greedy",
    "missing": "tests.bot.strategy_plugin:NoSuchThing",
    "not_one": "tests.bot.strategy_plugin:NOT_A_STRATEGY",
    "classic": "tests.bot.strategy_plugin:Greedy",  # may not replace a built-in
}


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package "team-strategies" that declares the plug-ins, importable from sys.path."""
    dist = tmp_path / "team_strategies-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: team-strategies\nVersion: 1.0\n", encoding="utf-8")
    lines = "".join(f"{name} = {target}\n" for name, target in PLUGINS.items())
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return dist


def resting_by_market(env: BotEnv) -> dict[str, list[tuple[Side, int, int]]]:
    found: dict[str, list[tuple[Side, int, int]]] = {}
    for order in env.resting():
        found.setdefault(order.ticker, []).append((order.side, order.price, order.remaining))
    return found


def test_plugins_are_found_by_name_and_the_broken_ones_are_left_out(installed: Path) -> None:
    registry = StrategyRegistry.discover(logging.getLogger("dora.test"))
    assert {"inside", "failing", "greedy", "classic", "microprice"} <= set(registry.names)
    assert "unavailable" in registry.lookup("missing").problem
    assert "not a strategy" in registry.lookup("not_one").problem
    assert isinstance(registry.lookup("classic").strategy, ClassicStrategy)  # not the plug-in
    assert "unknown strategy 'nope'" in registry.lookup("nope").problem


def test_a_plugin_quotes_one_market_while_a_failing_and_an_unknown_one_skip(
    bot_env_factory: Any, installed: Path
) -> None:
    env = bot_env_factory(markets=4, flow=False, seed=2)
    failing, plugin, unknown, builtin = env.tickers
    configure(env, failing, strategy="failing")  # raises for tickers ending in 00
    configure(env, plugin, strategy="inside")
    configure(env, unknown, strategy="nope")
    configure(env, builtin, strategy="microprice")
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    outcomes = []
    quote = bot._quote

    def spy(now_ms: int, ids: Any) -> Any:  # records the outcome, changes nothing
        outcomes.append(quote(now_ms, ids))
        return outcomes[-1]

    bot._quote = spy  # type: ignore[method-assign]
    env.cycles(bot, 2)
    resting = resting_by_market(env)
    assert sorted(s for s, _, _ in resting[plugin]) == [Side.ASK, Side.BID]
    assert all(size == 200 for _, _, size in resting[plugin])  # the plug-in's two contracts
    assert builtin in resting  # the second built-in quotes too
    assert failing not in resting and unknown not in resting
    errors = outcomes[-1].market_errors
    assert set(errors) == {failing, unknown}
    assert "ZeroDivisionError" in errors[failing] and "unknown strategy" in errors[unknown]
    assert bot.summaries[-1].market_errors == 2


def test_a_plugin_cannot_pass_the_caps_nor_quote_a_market_being_closed(
    bot_env_factory: Any, installed: Path
) -> None:
    env = bot_env_factory(markets=2, flow=False, seed=2)
    capped, closing = env.tickers
    configure(env, capped, strategy="greedy")  # 500 contracts a side; the cap is 20
    configure(env, closing, strategy="greedy", close_positions_before_s=Decimal(10**8))
    buy_for_dora(env, closing, 3)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    resting = resting_by_market(env)
    assert capped not in resting  # every greedy order was refused by the risk checks
    (only,) = resting[closing]  # the close replaced the plug-in's quotes: one ask, 3 contracts
    assert (only[0], only[2]) == (Side.ASK, 300)
    with env.sim.lock:
        positions = Counter({p.ticker: p.position for p in env.sim.engine.positions("dora")})
    assert positions[capped] == 0 and positions[closing] == 300
