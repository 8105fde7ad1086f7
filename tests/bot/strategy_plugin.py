"""Strategies a team might ship in its own package, found by dora through the
``dora.strategies`` entry-point group (see tests/bot/test_strategies_e2e.py, which installs
metadata naming these)."""

from __future__ import annotations

from dora.core.grid import ticks_above, ticks_below, valid_prices
from dora.core.models import Side
from dora.core.strategies import QuoteDecision, QuoteInputs, TargetQuote
from dora.core.strategies.record import PriceRecord, summarize_book

C = 100


class InsideTheTouch:
    """Two contracts one tick inside the touch on both sides."""

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision:
        ticker = inputs.rules.ticker
        book = summarize_book(inputs.book)
        record = PriceRecord(book, inputs.position.net, mode="plugin")
        grid = valid_prices(inputs.rules.price_ranges)
        if book.best_bid is None or book.best_ask is None:
            return QuoteDecision(ticker, (), "no_book", record)
        bid, ask = ticks_above(grid, book.best_bid), ticks_below(grid, book.best_ask)
        if bid is None or ask is None or bid >= ask:
            return QuoteDecision(ticker, (), "too_tight", record)
        targets = (TargetQuote(ticker, Side.BID, bid, 2 * C, 0),
                   TargetQuote(ticker, Side.ASK, ask, 2 * C, 0))
        return QuoteDecision(ticker, targets, "quoted", record)


class FailsOnOneMarket(InsideTheTouch):
    """Raises for the market whose ticker ends in 00 (a bug in a team's strategy)."""

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision:
        if inputs.rules.ticker.endswith("00"):
            raise ZeroDivisionError("a bug in the team's pricing")
        return super().compute_quotes(inputs)


class Greedy:
    """Asks for far more than any cap allows, on both sides, at the touch."""

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision:
        ticker = inputs.rules.ticker
        book = summarize_book(inputs.book)
        record = PriceRecord(book, inputs.position.net, mode="plugin")
        if book.best_bid is None or book.best_ask is None:
            return QuoteDecision(ticker, (), "no_book", record)
        targets = (TargetQuote(ticker, Side.BID, book.best_bid, 500 * C, 0),
                   TargetQuote(ticker, Side.ASK, book.best_ask, 500 * C, 0))
        return QuoteDecision(ticker, targets, "quoted", record)


NOT_A_STRATEGY = object()
