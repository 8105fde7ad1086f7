"""Quoting strategies: the shared protocol and types (:mod:`.base`), the built-ins (the classic
strategy, the default, and a microprice quoter) and the checks every strategy's output passes
(:mod:`.checks`). Plug-in strategies are found by name through Python entry points in the
``dora.strategies`` group; that lookup is I/O and lives in :mod:`dora.bot.strategies`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dora.core.strategies import classic, microprice
from dora.core.strategies.base import (
    QuoteDecision,
    QuoteInputs,
    Strategy,
    TargetQuote,
    market_blocked,
    remove_own_orders,
)

DEFAULT_STRATEGY = classic.NAME
BUILTIN_STRATEGIES: Mapping[str, Strategy] = MappingProxyType({
    classic.NAME: classic.ClassicStrategy(),
    microprice.NAME: microprice.MicropriceStrategy(),
})

__all__ = [
    "BUILTIN_STRATEGIES",
    "DEFAULT_STRATEGY",
    "QuoteDecision",
    "QuoteInputs",
    "Strategy",
    "TargetQuote",
    "market_blocked",
    "remove_own_orders",
]
