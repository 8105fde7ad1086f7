"""A second built-in strategy: quotes around the microprice, shifted by inventory. Pure.

In the spirit of the inventory-aware market makers (a reservation price that leans against the
position, then a fixed half-spread either side of it):

1. reference: the configured ``fair_value`` if set, else the microprice (top of book weighted by
   the opposite side's size, so it leans toward the thinner side);
2. reservation = reference - skew, the same inventory skew as the classic strategy (positive when
   long, so a long position lowers both quotes and sells sooner);
3. bid = reservation - ceil(min_spread / 2) snapped down to the grid, ask = reservation +
   ceil(min_spread / 2) snapped up; a quote that would take liquidity moves one tick behind the
   opposite best (``post_only_guard``);
4. sizes and levels as the classic strategy; when the book spread is under ``min_spread`` only
   the reducing side is quoted, for the whole position, one tick inside the touch but never past
   the reference (the manager's exit-only meaning: ``min_spread=0.50`` walks a position out).
"""

from __future__ import annotations

import math
from fractions import Fraction

from dora.core.fair_value import micro_price
from dora.core.grid import ladder_down, ladder_up, snap_down, snap_up, ticks_above, ticks_below
from dora.core.grid import valid_prices as grid_prices
from dora.core.market_config import MarketConfig
from dora.core.models import Side, TsMs
from dora.core.pricing import Skew, compute_skew, exit_size, side_sizes
from dora.core.strategies.base import (
    QuoteDecision,
    QuoteInputs,
    TargetQuote,
    blocked_valid_until,
    market_blocked,
    quote_target,
)
from dora.core.strategies.record import BookSummary, PriceRecord, summarize_book
from dora.core.units import Count, Price

NAME = "microprice"
Quote = tuple[Price, str]


class MicropriceStrategy:
    def decide_until(self, inputs: QuoteInputs) -> tuple[QuoteDecision, TsMs | None]:
        """The time matters only through the close guard."""
        return self.compute_quotes(inputs), blocked_valid_until(inputs)

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision:
        ticker = inputs.rules.ticker
        book = summarize_book(inputs.book)
        net = inputs.position.net
        config = inputs.config
        blocked = market_blocked(inputs)
        if not blocked and book.spread is not None and book.spread <= 0:
            blocked = "book_crossed"
        found = _reference(config, book) if isinstance(config, MarketConfig) else None
        if blocked or found is None or not isinstance(config, MarketConfig):
            reason = blocked or "no_two_sided_book"
            return QuoteDecision(ticker, (), reason, PriceRecord(book, net))
        reference, source = found
        skew = compute_skew(config, net)
        exit_only = book.spread is not None and book.spread < config.min_spread
        mode = "exit_only" if exit_only else "normal"
        grid = grid_prices(inputs.rules.price_ranges)
        if exit_only:
            bid, ask = _exit_prices(grid, book, reference)
        else:
            bid, ask = _prices(grid, book, reference, skew, config.min_spread)
        record = PriceRecord(
            book, net, reference, source, 0, skew.as_fraction(), mode=mode,
            bid_price=bid[0] if bid else None, bid_rule=bid[1] if bid else "",
            ask_price=ask[0] if ask else None, ask_rule=ask[1] if ask else "",
        )
        fractional = inputs.rules.fractional_trading
        if exit_only:
            targets = _exit_targets(ticker, bid, ask, net, fractional)
        else:
            targets = _level_targets(ticker, grid, config, bid, ask, net, fractional)
        if not targets:
            reason = "exit_only_flat" if exit_only and net == 0 else "no_size"
            return QuoteDecision(ticker, (), reason, record)
        return QuoteDecision(ticker, targets, "quoted", record)


def _reference(config: MarketConfig, book: BookSummary) -> tuple[Price, str] | None:
    if config.fair_value is not None:
        return config.fair_value, "config"
    if book.best_bid is None or book.best_ask is None:
        return None
    return micro_price(book.best_bid, book.bid_size, book.best_ask, book.ask_size), "microprice"


def _prices(
    grid: tuple[Price, ...], book: BookSummary, reference: Price, skew: Skew, min_spread: Price
) -> tuple[Quote | None, Quote | None]:
    half = -(-min_spread // 2)
    reservation = Fraction(reference) - skew.as_fraction()
    bid = snap_down(grid, math.floor(reservation - half))
    ask = snap_up(grid, math.ceil(reservation + half))
    return _guard_bid(grid, book, bid), _guard_ask(grid, book, ask)


def _exit_prices(
    grid: tuple[Price, ...], book: BookSummary, reference: Price
) -> tuple[Quote | None, Quote | None]:
    """One tick inside the touch, the bid no higher and the ask no lower than the reference."""
    bid = ask = None
    if book.best_bid is not None:
        inside = ticks_above(grid, book.best_bid)
        bid = min(inside, snap_down(grid, reference) or inside) if inside is not None else None
    if book.best_ask is not None:
        inside = ticks_below(grid, book.best_ask)
        ask = max(inside, snap_up(grid, reference) or inside) if inside is not None else None
    return _guard_bid(grid, book, bid, "exit_inside_touch"), _guard_ask(
        grid, book, ask, "exit_inside_touch")


def _guard_bid(
    grid: tuple[Price, ...], book: BookSummary, bid: Price | None, rule: str = "reservation"
) -> Quote | None:
    if bid is None:
        return None
    if book.best_ask is not None and bid >= book.best_ask:
        guarded = ticks_below(grid, book.best_ask)
        return None if guarded is None else (guarded, "post_only_guard")
    return bid, rule


def _guard_ask(
    grid: tuple[Price, ...], book: BookSummary, ask: Price | None, rule: str = "reservation"
) -> Quote | None:
    if ask is None:
        return None
    if book.best_bid is not None and ask <= book.best_bid:
        guarded = ticks_above(grid, book.best_bid)
        return None if guarded is None else (guarded, "post_only_guard")
    return ask, rule


def _exit_targets(
    ticker: str, bid: Quote | None, ask: Quote | None, net: Count, fractional: bool
) -> tuple[TargetQuote, ...]:
    size = exit_size(net, fractional)
    quote = ask if net > 0 else bid
    if net == 0 or size <= 0 or quote is None:
        return ()
    return (TargetQuote(ticker, Side.ASK if net > 0 else Side.BID, quote[0], size, 0),)


def _level_targets(
    ticker: str, grid: tuple[Price, ...], config: MarketConfig, bid: Quote | None,
    ask: Quote | None, net: Count, fractional: bool,
) -> tuple[TargetQuote, ...]:
    targets: list[TargetQuote] = []
    spacing, levels = config.level_spacing_ticks, config.levels
    for side, quote in ((Side.BID, bid), (Side.ASK, ask)):
        if quote is None:
            continue
        ladder = (ladder_down if side is Side.BID else ladder_up)(grid, quote[0], spacing, levels)
        sizes = side_sizes(config, side, net, fractional)
        targets += [quote_target(ticker, side, price, size, level)
                    for level, (price, size) in enumerate(zip(ladder, sizes, strict=False))
                    if size > 0]
    return tuple(targets)
