"""The strategy registry: built-ins, plug-ins through entry points, and what is left out."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

from dora.bot.strategies import ENTRY_POINT_GROUP, StrategyRegistry
from dora.core.strategies.microprice import MicropriceStrategy
from tests.bot.strategy_plugin import InsideTheTouch

LOG = logging.getLogger("dora.test")


def entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, ENTRY_POINT_GROUP)


def registry(*entries: EntryPoint) -> StrategyRegistry:
    return StrategyRegistry.discover(LOG, find=lambda: list(entries))


def test_without_plugins_the_builtins_are_there() -> None:
    found = registry()
    assert found.names == ["classic", "microprice"]
    assert isinstance(found.lookup("microprice").strategy, MicropriceStrategy)


def test_a_class_an_instance_or_a_factory_is_accepted() -> None:
    found = registry(entry("a", "tests.bot.strategy_plugin:InsideTheTouch"),
                     entry("b", "dora.core.strategies:BUILTIN_STRATEGIES"))
    assert isinstance(found.lookup("a").strategy, InsideTheTouch)
    assert "not a strategy" in found.lookup("b").problem


def test_a_name_two_packages_claim_is_refused_for_both() -> None:
    found = registry(entry("twin", "tests.bot.strategy_plugin:InsideTheTouch"),
                     entry("twin", "tests.bot.strategy_plugin:Greedy"))
    lookup = found.lookup("twin")
    assert lookup.strategy is None and "more than one installed package" in lookup.problem


def test_a_plugin_that_fails_to_import_is_left_out_with_the_reason() -> None:
    found = registry(entry("gone", "tests.bot.no_such_module:Strategy"))
    lookup = found.lookup("gone")
    assert lookup.strategy is None and "ModuleNotFoundError" in lookup.problem
