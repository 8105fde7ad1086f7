"""The checks every strategy's output passes before it can become orders. Pure.

A strategy (built in or a plug-in) only proposes quotes. Here dora refuses output it cannot
trust and trims what its own rules forbid; the exit policy, the diff and the risk checks come
after, so a strategy cannot bypass any of them.

Refused (the market is skipped for this cycle, with the problem as its reason): something that is
not a :class:`QuoteDecision`, a decision or target for another market, a target the exit policy
alone may make (a close or an immediate order), a price off the market's tick grid (or not an
integer), a size that is not a positive integer or is fractional on a market that trades whole
contracts, a level outside [0, 40), more targets than two full ladders.

Trimmed (the decision stands with fewer targets): every target while no strategy may quote
(:func:`market_blocked`), and the side that adds to the position while the book spread is under
``min_spread``, the exit-only meaning the market manager relies on (``min_spread=0.50`` with
``quote_size=1`` walks a position out).
"""

from __future__ import annotations

from dataclasses import replace

from dora.core.grid import valid_price_set
from dora.core.market_config import MAX_LEVELS, MarketConfig
from dora.core.models import Side, TsMs
from dora.core.strategies.base import (
    QuoteDecision,
    QuoteInputs,
    TargetQuote,
    blocked_valid_until,
    market_blocked,
)
from dora.core.strategies.record import PriceRecord
from dora.core.units import ONE_CONTRACT, Price

MAX_TARGETS = 2 * MAX_LEVELS


class StrategyOutputError(ValueError):
    """A strategy returned something dora cannot use; the message says what."""


def check_decision(decision: object, inputs: QuoteInputs) -> QuoteDecision:
    """The decision with only the targets dora allows; raises StrategyOutputError."""
    ticker = inputs.rules.ticker
    if not isinstance(decision, QuoteDecision) or not isinstance(decision.record, PriceRecord):
        raise StrategyOutputError(
            f"returned {type(decision).__name__}, not a QuoteDecision with a PriceRecord")
    if decision.ticker != ticker:
        raise StrategyOutputError(f"decided for {decision.ticker!r}, asked for {ticker!r}")
    targets = decision.targets
    if not isinstance(targets, tuple):
        raise StrategyOutputError(f"targets are a {type(targets).__name__}, not a tuple")
    if len(targets) > MAX_TARGETS:
        raise StrategyOutputError(f"{len(targets)} targets, at most {MAX_TARGETS}")
    grid = valid_price_set(inputs.rules.price_ranges)
    whole = not inputs.rules.fractional_trading
    for target in targets:
        _check_target(target, ticker, grid, whole)
    blocked = market_blocked(inputs)
    if blocked and targets:
        return replace(decision, targets=(), reason=blocked)
    allowed = _allowed_sides(inputs)
    if allowed is not None:
        kept = tuple(t for t in targets if t.side in allowed)
        if kept != targets:
            return replace(decision, targets=kept, reason=f"{decision.reason}:exit_only")
    return decision


def checks_valid_until(inputs: QuoteInputs) -> TsMs | None:
    """Until when these checks keep their verdict as the time passes (the rest unchanged)."""
    return blocked_valid_until(inputs)


def _check_target(target: object, ticker: str, grid: frozenset[Price], whole: bool) -> None:
    if not isinstance(target, TargetQuote):
        raise StrategyOutputError(f"a target is a {type(target).__name__}, not a TargetQuote")
    if target.ticker != ticker:
        raise StrategyOutputError(f"a target is for {target.ticker!r}, not {ticker!r}")
    if target.close or target.immediate:
        raise StrategyOutputError("only the exit policy may make closing or immediate orders")
    if not isinstance(target.side, Side):
        raise StrategyOutputError(f"a target's side is {target.side!r}, not a Side")
    price, size, level = target.price, target.size, target.level
    if type(price) is not int or price not in grid:
        raise StrategyOutputError(f"price {price!r} is not on the market's tick grid")
    if type(size) is not int or size <= 0:
        raise StrategyOutputError(f"size {size!r} is not a positive count")
    if type(level) is not int or not 0 <= level < MAX_TARGETS:
        raise StrategyOutputError(f"level {level!r} is not in [0, {MAX_TARGETS})")
    if whole and size % ONE_CONTRACT:
        raise StrategyOutputError(f"size {size} is not whole contracts")


def _allowed_sides(inputs: QuoteInputs) -> tuple[Side, ...] | None:
    """While the book spread is under min_spread only the reducing side may be quoted (none
    when flat); None: both may be."""
    config = inputs.config
    if not isinstance(config, MarketConfig):
        return None
    book = inputs.book
    if not (book.bids and book.asks) or book.asks[0].price - book.bids[0].price >= (
            config.min_spread):
        return None
    net = inputs.position.net
    return (Side.ASK,) if net > 0 else ((Side.BID,) if net < 0 else ())
