"""The checks every strategy's output passes before it can become orders. Pure.

A strategy (built in or a plug-in) only proposes quotes. Here dora refuses output it cannot
trust and trims what its own rules forbid; the exit policy, the diff and the risk checks come
after, so a strategy cannot bypass any of them.

Refused (the market is skipped for this cycle, with the problem as its reason): something that is
not a :class:`QuoteDecision`, a decision or target for another market, a target the exit policy
alone may make (a close or an immediate order), a price off the market's tick grid, a fractional
size on a market that trades whole contracts, more targets than two full ladders.

Trimmed (the decision stands with fewer targets): every target while no strategy may quote
(:func:`market_blocked`), and the side that adds to the position while the book spread is under
``min_spread``, the exit-only meaning the market manager relies on (``min_spread=0.50`` with
``quote_size=1`` walks a position out).
"""

from __future__ import annotations

from dataclasses import replace

from dora.core.market_config import MAX_LEVELS, MarketConfig
from dora.core.models import Side
from dora.core.strategies.base import QuoteDecision, QuoteInputs, TargetQuote, market_blocked
from dora.core.strategies.record import PriceRecord, summarize_book
from dora.core.ticks import is_valid_price
from dora.core.units import ONE_CONTRACT

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
    if len(decision.targets) > MAX_TARGETS:
        raise StrategyOutputError(f"{len(decision.targets)} targets, at most {MAX_TARGETS}")
    for target in decision.targets:
        _check_target(target, inputs)
    blocked = market_blocked(inputs)
    if blocked and decision.targets:
        return replace(decision, targets=(), reason=blocked)
    kept = tuple(t for t in decision.targets if _allowed_side(t, inputs))
    if kept != decision.targets:
        return replace(decision, targets=kept, reason=f"{decision.reason}:exit_only")
    return decision


def _check_target(target: object, inputs: QuoteInputs) -> None:
    rules = inputs.rules
    if not isinstance(target, TargetQuote):
        raise StrategyOutputError(f"a target is a {type(target).__name__}, not a TargetQuote")
    if target.ticker != rules.ticker:
        raise StrategyOutputError(f"a target is for {target.ticker!r}, not {rules.ticker!r}")
    if target.close or target.immediate:
        raise StrategyOutputError("only the exit policy may make closing or immediate orders")
    if not is_valid_price(rules.price_ranges, target.price):
        raise StrategyOutputError(f"price {target.price} is not on the market's tick grid")
    if not rules.fractional_trading and target.size % ONE_CONTRACT:
        raise StrategyOutputError(f"size {target.size} is not whole contracts")


def _allowed_side(target: TargetQuote, inputs: QuoteInputs) -> bool:
    """While the book spread is under min_spread only the reducing side may be quoted."""
    config = inputs.config
    spread = summarize_book(inputs.book).spread
    if not isinstance(config, MarketConfig) or spread is None or spread >= config.min_spread:
        return True
    net = inputs.position.net
    return (net > 0 and target.side is Side.ASK) or (net < 0 and target.side is Side.BID)
