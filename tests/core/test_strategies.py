"""The strategy seam: the built-ins, the microprice quoter, and the checks every strategy's
output passes before it can become orders."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dora.core.market_config import DEFAULT_STRATEGY
from dora.core.models import DECI_CENT, MarketStatus, Side
from dora.core.strategies import BUILTIN_STRATEGIES, QuoteDecision, TargetQuote
from dora.core.strategies.checks import StrategyOutputError, check_decision
from dora.core.strategies.classic import ClassicStrategy, compute_quotes
from dora.core.strategies.microprice import MicropriceStrategy
from dora.core.strategies.record import PriceRecord, summarize_book
from tests.core.builders import HOUR, NOW, TICKER, C, book, config, inputs, long, rules, short

MICRO = MicropriceStrategy()


def quotes(decision: QuoteDecision) -> list[tuple[Side, int, int, int]]:
    return [(t.side, t.price, t.size, t.level) for t in decision.targets]


def test_the_builtins_are_classic_by_default_and_microprice() -> None:
    assert set(BUILTIN_STRATEGIES) == {"classic", "microprice"}
    assert DEFAULT_STRATEGY == "classic"
    assert isinstance(BUILTIN_STRATEGIES[DEFAULT_STRATEGY], ClassicStrategy)
    same = inputs()
    assert BUILTIN_STRATEGIES["classic"].compute_quotes(same) == compute_quotes(same)


def test_microprice_quotes_half_the_min_spread_around_the_size_weighted_top_of_book() -> None:
    # bid 40c x 30, ask 50c x 10: the microprice leans to the thin ask: (40*10 + 50*30) / 40
    decision = MICRO.compute_quotes(inputs(config(min_spread="0.04"),
                                           book([(4000, 30 * C)], [(5000, 10 * C)])))
    assert decision.record.fair_value == 4750 and decision.record.fv_source == "microprice"
    # 47.5c -/+ 2c, snapped outward to the cent grid
    assert quotes(decision) == [(Side.BID, 4500, 10 * C, 0), (Side.ASK, 5000, 10 * C, 0)]
    assert (decision.record.bid_rule, decision.record.ask_rule) == ("reservation", "reservation")


def test_microprice_leans_against_the_position() -> None:
    cfg = config(min_spread="0.04", max_inventory_yes="20", inventory_skew_factor="1")
    wide = book([(4000, 10 * C)], [(6000, 10 * C)])  # microprice 50c
    flat = MICRO.compute_quotes(inputs(cfg, wide))
    held = MICRO.compute_quotes(inputs(cfg, wide, position=long(10 * C, 5000)))
    assert [t.price for t in flat.targets] == [4800, 5200]
    # half the cap -> skew 1 * 0.5 * 4c = 2c lower on both sides
    assert [t.price for t in held.targets] == [4600, 5000]


def test_microprice_never_takes_liquidity_and_keeps_the_exit_only_meaning() -> None:
    cfg = config(min_spread="0.50", quote_size="1")  # the manager's exit action
    tight = book([(4800, 10 * C)], [(5200, 10 * C)])
    assert MICRO.compute_quotes(inputs(cfg, tight)).targets == ()
    decision = MICRO.compute_quotes(inputs(cfg, tight, position=short(3 * C, 6000)))
    assert quotes(decision) == [(Side.BID, 4900, 3 * C, 0)]  # inside the touch, not at 25c
    assert decision.record.bid_rule == "exit_inside_touch"
    assert decision.record.mode == "exit_only"
    far = MICRO.compute_quotes(inputs(config(min_spread="0.04", fair_value="0.70"),
                                      book([(4000, C)], [(5000, C)])))
    assert quotes(far)[0] == (Side.BID, 4900, 10 * C, 0)  # 68c would take the 50c ask
    assert far.record.bid_rule == "post_only_guard"


def test_microprice_respects_the_same_blocks_as_every_strategy() -> None:
    near_close = inputs(rl=rules(close_ms=NOW + 60_000))
    assert MICRO.compute_quotes(near_close).reason == "close_guard"
    assert MICRO.compute_quotes(inputs(bk=book([(4000, C)], []))).reason == "no_two_sided_book"
    assert MICRO.compute_quotes(inputs(config(fair_value="0.45"), book([(4000, C)], []))).targets


def test_checks_pass_a_classic_decision_unchanged() -> None:
    same = inputs()
    decision = compute_quotes(same)
    assert check_decision(decision, same) is decision


def bad(targets: tuple[object, ...], ticker: str = TICKER) -> QuoteDecision:
    return QuoteDecision(ticker, targets, "quoted", PriceRecord(summarize_book(book())))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        ("not a decision", "not a QuoteDecision"),
        (bad((), ticker="OTHER"), "decided for"),
        (bad((TargetQuote("OTHER", Side.BID, 4000, C, 0),)), "is for"),
        (bad((TargetQuote(TICKER, Side.BID, 4050, C, 0),)), "tick grid"),
        (bad((TargetQuote(TICKER, Side.BID, 4000, 150, 0),)), "whole contracts"),
        (bad((TargetQuote(TICKER, Side.ASK, 6000, C, 0, close="stuck"),)), "exit policy"),
        (bad(tuple(TargetQuote(TICKER, Side.BID, 1000 + 100 * i, C, 0) for i in range(41))),
         "at most"),
    ],
)
def test_checks_refuse_output_dora_cannot_trust(decision: object, problem: str) -> None:
    with pytest.raises(StrategyOutputError, match=problem):
        check_decision(decision, inputs())


def test_checks_drop_every_target_where_no_strategy_may_quote() -> None:
    greedy = bad((TargetQuote(TICKER, Side.BID, 4000, C, 0),))
    for blocked in (inputs(rl=rules(status=MarketStatus.INACTIVE)),
                    inputs(rl=rules(close_ms=NOW + HOUR // 60)),
                    inputs(config(enabled=False))):
        checked = check_decision(greedy, blocked)
        assert checked.targets == () and checked.reason in (
            "market_not_open", "close_guard", "config_disabled")


def test_checks_keep_only_the_reducing_side_while_the_spread_is_under_min_spread() -> None:
    both = bad((TargetQuote(TICKER, Side.BID, 4800, C, 0),
                TargetQuote(TICKER, Side.ASK, 5200, C, 0)))
    tight = book([(4800, C)], [(5200, C)])
    cfg = config(min_spread="0.50")
    assert check_decision(both, inputs(cfg, tight)).targets == ()
    held = check_decision(both, inputs(cfg, tight, position=long(C, 5000)))
    assert [t.side for t in held.targets] == [Side.ASK]
    assert held.reason == "quoted:exit_only"
    wide = check_decision(both, inputs(config(min_spread="0.02"), tight))
    assert wide.targets == both.targets


def test_checks_accept_fractional_sizes_where_the_market_trades_them() -> None:
    fractional = inputs(rl=replace(rules(fractional=True), price_ranges=DECI_CENT))
    decision = bad((TargetQuote(TICKER, Side.BID, 4010, 150, 0),))
    assert check_decision(decision, fractional).targets == decision.targets
