"""The classic quoting strategy: target quotes per market, with a record of how each price was
derived. Pure: a function of (rules, book without dora's own size, trades, position, config, now).

Decision order: config invalid / disabled -> market not open -> close guard -> crossed book -> no
reference (no two-sided book and no configured fair value) -> volatility gate (quote nothing, or
only the reducing side when the position can be exited at a profit at the near touch) -> exit-only
when the book spread is under ``min_spread`` (reducing side, whole position) -> normal quoting.
Prices: :mod:`dora.core.pricing`; fair value and volatility: :mod:`dora.core.fair_value`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from dora.core.fair_value import (
    VOL_MIN_PRICES,
    FairValue,
    exceeds_std_dev,
    gate_threshold,
    std_dev_floor,
    trades_valid_until,
    usable_trades,
    variance_scaled,
    volatility_sample,
)
from dora.core.grid import ladder_down, ladder_up, valid_prices
from dora.core.market_config import InvalidMarketConfig, MarketConfig
from dora.core.models import PositionState, PublicTrade, Side, TsMs
from dora.core.pricing import (
    NO_SKEW,
    PriceInputs,
    SidePrices,
    Skew,
    compute_skew,
    exit_size,
    quote_prices,
    side_sizes,
)
from dora.core.strategies.base import (
    QuoteDecision,
    QuoteInputs,
    TargetQuote,
    blocked_valid_until,
    earliest,
    market_blocked,
    quote_target,
)
from dora.core.strategies.record import (
    BookSummary,
    PriceRecord,
    choose_fair_value,
    summarize_book,
)
from dora.core.units import Count, Price

NAME = "classic"


class ClassicStrategy:
    """The default strategy (the predecessor's rules, see the module docstring)."""

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision:
        return decide_until(inputs)[0]

    def decide_until(self, inputs: QuoteInputs) -> tuple[QuoteDecision, TsMs | None]:
        return decide_until(inputs)


def compute_targets(inputs: Iterable[QuoteInputs]) -> dict[str, QuoteDecision]:
    decisions: dict[str, QuoteDecision] = {}
    for market in inputs:
        decision = compute_quotes(market)
        decisions[decision.ticker] = decision
    return decisions


def compute_quotes(inputs: QuoteInputs) -> QuoteDecision:
    return decide_until(inputs)[0]


def decide_until(inputs: QuoteInputs) -> tuple[QuoteDecision, TsMs | None]:
    """The decision, and until when it holds as the clock moves with the other inputs unchanged
    (:class:`dora.core.strategies.base.TimedStrategy`): the close guard, and the trades leaving
    the fair value's and the volatility's windows."""
    ticker = inputs.rules.ticker
    book = summarize_book(inputs.book)
    net = inputs.position.net
    config = inputs.config
    guard = blocked_valid_until(inputs)
    blocked = _blocking_reason(inputs, config, book)
    if blocked or not isinstance(config, MarketConfig):
        return _no_quotes(ticker, blocked or "config_invalid", PriceRecord(book, net)), guard
    trades = usable_trades(inputs.trades)
    from_trades = config.fair_value is None and config.fair_value_source == "trades"
    until = earliest(guard, trades_valid_until(trades, inputs.now_ms, fair_value=from_trades))
    return _decide(inputs, config, book, trades), until


def _decide(
    inputs: QuoteInputs, config: MarketConfig, book: BookSummary, trades: list[PublicTrade]
) -> QuoteDecision:
    ticker, net = inputs.rules.ticker, inputs.position.net
    fair = choose_fair_value(config, book, trades, inputs.now_ms)
    vol = _volatility(config, inputs.position, book, trades, inputs.now_ms)
    if fair.price is None:
        return _no_quotes(ticker, "no_fair_value", PriceRecord(book, net))
    mode = vol.mode
    if mode == "normal" and book.spread is not None and book.spread < config.min_spread:
        mode = "exit_only"
    if mode == "volatility_gate":
        return _no_quotes(ticker, mode, _record(book, net, fair, vol, mode, NO_SKEW, None))
    if mode == "exit_only" and net == 0:
        record = _record(book, net, fair, vol, mode, NO_SKEW, None)
        return _no_quotes(ticker, "exit_only_flat", record)
    return _quote(inputs, config, book, fair, vol, mode)


class _Volatility(NamedTuple):
    mode: str  # normal | volatility_gate | volatility_exit
    std_dev: Price | None
    prices: int
    threshold: Price
    gated: bool


def _blocking_reason(
    inputs: QuoteInputs, config: MarketConfig | InvalidMarketConfig, book: BookSummary
) -> str:
    blocked = market_blocked(inputs)
    if blocked or not isinstance(config, MarketConfig):
        return blocked or "config_invalid"
    if book.spread is not None and book.spread <= 0:
        return "book_crossed"
    if book.spread is None and config.fair_value is None:
        return "no_two_sided_book"
    return ""


def _volatility(
    config: MarketConfig, position: PositionState, book: BookSummary,
    trades: list[PublicTrade], now_ms: TsMs,
) -> _Volatility:
    prices = volatility_sample(trades, now_ms)
    n = len(prices)
    threshold = gate_threshold(book.spread)
    if n < VOL_MIN_PRICES:
        return _Volatility("normal", None, n, threshold, False)
    scaled = variance_scaled(prices)
    gated = config.volatility_gate and exceeds_std_dev(scaled, n, threshold)
    mode = "normal"
    if gated:
        mode = "volatility_exit" if _exit_is_profitable(position, book) else "volatility_gate"
    return _Volatility(mode, std_dev_floor(scaled, n), n, threshold, gated)


def _exit_is_profitable(position: PositionState, book: BookSummary) -> bool:
    """Judged at the near touch: a long sells into the best bid, a short buys the best ask."""
    net = position.net
    if net > 0 and book.best_bid is not None:
        return book.best_bid * net > position.open_cost
    if net < 0 and book.best_ask is not None:
        return book.best_ask * -net < position.open_cost
    return False


def _record(
    book: BookSummary, net: Count, fair: FairValue, vol: _Volatility, mode: str, skew: Skew,
    prices: SidePrices | None,
) -> PriceRecord:
    bid = prices.bid if prices else None
    ask = prices.ask if prices else None
    return PriceRecord(
        book, net, fair.price, fair.source, fair.trades_used, skew.as_fraction(), vol.std_dev,
        vol.prices,
        vol.threshold, vol.gated, mode,
        bid[0] if bid else None, bid[1] if bid else "",
        ask[0] if ask else None, ask[1] if ask else "",
    )


def _quote(
    inputs: QuoteInputs, config: MarketConfig, book: BookSummary, fair: FairValue,
    vol: _Volatility, mode: str,
) -> QuoteDecision:
    grid = valid_prices(inputs.rules.price_ranges)
    net = inputs.position.net
    skew = compute_skew(config, net)
    prices = quote_prices(PriceInputs(
        grid, book.best_bid, book.best_ask, fair.price or 0, skew, config.min_spread,
        config.tight_book_spread, net,
    ))
    record = _record(book, net, fair, vol, mode, skew, prices)
    ticker = inputs.rules.ticker
    if prices.flat_below_min_spread:
        return _no_quotes(ticker, "min_spread_flat", record)
    fractional = inputs.rules.fractional_trading
    if mode != "normal":
        targets = _exit_targets(ticker, prices, net, fractional)
    else:
        targets = _level_targets(ticker, grid, config, prices, net, fractional)
    if not targets:
        return _no_quotes(ticker, "no_size", record)
    return QuoteDecision(ticker, targets, "quoted", record)


def _exit_targets(
    ticker: str, prices: SidePrices, net: Count, fractional: bool
) -> tuple[TargetQuote, ...]:
    """Exit-only: the reducing side alone, one level, sized to the whole position."""
    size = exit_size(net, fractional)
    quote = prices.ask if net > 0 else prices.bid
    if net == 0 or size <= 0 or quote is None:
        return ()
    side = Side.ASK if net > 0 else Side.BID
    return (TargetQuote(ticker, side, quote[0], size, 0),)


def _level_targets(
    ticker: str, grid: tuple[Price, ...], config: MarketConfig, prices: SidePrices, net: Count,
    fractional: bool,
) -> tuple[TargetQuote, ...]:
    """Level k sits k * level_spacing_ticks grid steps further from the touch than level 0."""
    targets: list[TargetQuote] = []
    spacing, levels = config.level_spacing_ticks, config.levels
    if prices.bid is not None:
        bids = ladder_down(grid, prices.bid[0], spacing, levels)
        targets += _levels(ticker, Side.BID, bids, side_sizes(config, Side.BID, net, fractional))
    if prices.ask is not None:
        asks = ladder_up(grid, prices.ask[0], spacing, levels)
        targets += _levels(ticker, Side.ASK, asks, side_sizes(config, Side.ASK, net, fractional))
    return tuple(targets)


def _levels(
    ticker: str, side: Side, ladder: tuple[Price, ...], sizes: list[Count]
) -> list[TargetQuote]:
    """One target per level with a size; the ladder stops early where the grid ends."""
    return [
        quote_target(ticker, side, price, size, level)
        for level, (price, size) in enumerate(zip(ladder, sizes, strict=False))
        if size > 0
    ]


def _no_quotes(ticker: str, reason: str, record: PriceRecord) -> QuoteDecision:
    return QuoteDecision(ticker, (), reason, record)
