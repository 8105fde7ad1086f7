"""Strategies by name: dora's built-ins, and plug-ins found through Python entry points.

A team ships its own strategy as a package that declares, in its metadata (setup.cfg shown)::

    [options.entry_points]
    dora.strategies =
        mine = my_package.quoting:MyStrategy

and selects it per market with the config field ``strategy=mine`` (or as the global default).
The entry point names a strategy object (anything with ``compute_quotes``, see
:class:`dora.core.strategies.Strategy`) or a class or factory that builds one with no arguments.

Plug-ins are looked up once, when the bot starts: reading installed packages' metadata is I/O, so
this lives in the bot layer and never in the pure core. A plug-in that cannot be loaded, that two
packages both claim, or that reuses a built-in's name is logged and left out; a market configured
with a name that is not available skips with that reason while the others keep trading. Whatever
a strategy returns still passes dora's checks, the exit policy, the diff and the risk checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol, TypeGuard

from dora.core.strategies import BUILTIN_STRATEGIES, Strategy
from dora.runtime.logs import EventType, log_event

ENTRY_POINT_GROUP = "dora.strategies"


class EntryPointLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...
    def load(self) -> Any: ...


def installed_entry_points() -> list[EntryPointLike]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


@dataclass(frozen=True, slots=True)
class Lookup:
    strategy: Strategy | None
    problem: str = ""


class StrategyRegistry:
    def __init__(self, strategies: Mapping[str, Strategy], broken: Mapping[str, str]) -> None:
        self._strategies = dict(strategies)
        self._broken = dict(broken)

    @classmethod
    def discover(
        cls, logger: logging.Logger,
        find: Callable[[], Iterable[EntryPointLike]] = installed_entry_points,
    ) -> StrategyRegistry:
        """The built-ins plus every plug-in that loads; each problem is logged once."""
        found: dict[str, Strategy] = {}
        broken: dict[str, str] = {}
        for entry in find():
            problem = _problem(entry.name, found, broken)
            strategy = None if problem else _load(entry)
            if isinstance(strategy, str):
                problem, strategy = strategy, None
            if problem:
                broken[entry.name] = problem
                found.pop(entry.name, None)
                log_event(logger, EventType.CONFIG_REFRESH, "strategy plug-in left out",
                          level=logging.WARNING, strategy=entry.name, reason=problem)
            elif strategy is not None:
                found[entry.name] = strategy
        if found:
            log_event(logger, EventType.STARTUP, "strategy plug-ins loaded",
                      strategies=sorted(found))
        return cls({**found, **BUILTIN_STRATEGIES}, broken)

    def lookup(self, name: str) -> Lookup:
        strategy = self._strategies.get(name)
        if strategy is not None:
            return Lookup(strategy)
        if name in self._broken:
            return Lookup(None, f"strategy {name!r} is unavailable: {self._broken[name]}")
        known = ", ".join(sorted(self._strategies))
        return Lookup(None, f"unknown strategy {name!r} (available: {known})")

    @property
    def names(self) -> list[str]:
        return sorted(self._strategies)


def _problem(name: str, found: Mapping[str, Strategy], broken: Mapping[str, str]) -> str:
    if name in BUILTIN_STRATEGIES:
        return f"{name!r} is a built-in strategy's name"
    if name in found or name in broken:
        return f"more than one installed package provides {name!r}"
    return ""


def _load(entry: EntryPointLike) -> Strategy | str:
    """The strategy an entry point names, or why it cannot be used."""
    try:
        target = entry.load()
        strategy = target if _is_strategy(target) else target() if callable(target) else None
    except Exception as exc:  # a plug-in's own import or constructor failed
        return f"cannot load {entry.value}: {type(exc).__name__}: {exc}"
    if not _is_strategy(strategy):
        return f"{entry.value} is not a strategy (it has no compute_quotes)"
    return strategy


def _is_strategy(value: object) -> TypeGuard[Strategy]:
    return callable(getattr(value, "compute_quotes", None)) and not isinstance(value, type)
