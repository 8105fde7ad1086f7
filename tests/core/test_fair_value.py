"""Fair value and the volatility gate, seen through compute_quotes."""

from __future__ import annotations

from dora.core.models import Side
from dora.core.strategies.base import QuoteDecision
from dora.core.strategies.classic import compute_quotes
from tests.core.builders import (
    HOUR,
    C,
    book,
    config,
    inputs,
    long,
    short,
    trade,
)


def quotes(decision: QuoteDecision) -> list[tuple[Side, int, int, int]]:
    return [(t.side, t.price, t.size, t.level) for t in decision.targets]


def test_configured_fair_value_overrides_trades_and_book() -> None:
    decision = compute_quotes(inputs(config(fair_value="0.44"), trades=(trade(4800),)))
    assert (decision.record.fair_value, decision.record.fv_source) == (4400, "config")


def test_weighted_trade_fair_value_uses_sqrt_size_and_half_life() -> None:
    # weights sqrt(100)=10 and sqrt(25)=5 -> (10*4000 + 5*6000)/15 = 4666.67 -> 4667
    by_size = (trade(4000, 100 * C), trade(6000, 25 * C))
    fair = compute_quotes(inputs(trades=by_size)).record
    assert (fair.fair_value, fair.fv_source, fair.fv_trades) == (4667, "wma_24h", 2)
    # same size, one 12 h old: weights 1 and 1/2 -> (4000 + 3000)/1.5 = 4666.67
    by_age = (trade(4000, 4 * C), trade(6000, 4 * C, age_ms=12 * HOUR))
    assert compute_quotes(inputs(trades=by_age)).record.fair_value == 4667


def test_weighted_fair_value_uses_at_most_the_five_newest_trades() -> None:
    recent = tuple(trade(4500, 10 * C, age_ms=i * 1000) for i in range(5))
    older = trade(9000, 1000 * C, age_ms=10_000)
    record = compute_quotes(inputs(trades=(older, *recent))).record
    assert (record.fair_value, record.fv_trades) == (4500, 5)


def test_single_contract_prints_are_ignored() -> None:
    record = compute_quotes(inputs(trades=(trade(4200, 10 * C, age_ms=5), trade(9000, C)))).record
    assert (record.fair_value, record.fv_trades) == (4200, 1)


def test_fair_value_falls_back_to_the_last_trade_then_the_mid() -> None:
    old = (trade(4300, 10 * C, age_ms=30 * HOUR), trade(4700, 10 * C, age_ms=40 * HOUR))
    record = compute_quotes(inputs(trades=old)).record
    assert (record.fair_value, record.fv_source) == (4300, "last_trade")
    record = compute_quotes(inputs(trades=(trade(4300, C),))).record
    assert (record.fair_value, record.fv_source) == (4500, "mid")


def test_microprice_source_leans_toward_the_thin_side() -> None:
    cfg = config(fair_value_source="microprice")
    record = compute_quotes(inputs(cfg, book([(4000, 30 * C)], [(5000, 10 * C)]))).record
    # (4000*10 + 5000*30) / 40 = 4750
    assert (record.fair_value, record.fv_source) == (4750, "microprice")


def test_mid_source_ignores_trades() -> None:
    record = compute_quotes(inputs(config(fair_value_source="mid"), trades=(trade(4800),))).record
    assert (record.fair_value, record.fv_source) == (4500, "mid")


def test_one_sided_reducing_quote_is_capped_by_fair_value() -> None:
    cfg = config(min_spread="0.09", fair_value="0.43")
    decision = compute_quotes(inputs(cfg, position=long(5 * C, 4000)))
    assert quotes(decision) == [(Side.ASK, 4900, 10 * C, 0)]  # max(inside ask, FV)
    decision = compute_quotes(inputs(cfg, position=short(5 * C, 5000)))
    assert quotes(decision) == [(Side.BID, 4100, 10 * C, 0)]  # min(inside bid 41, FV 43)


def test_volatile_trades_gate_quoting() -> None:
    # spread 0.03 -> threshold clamp(0.03) = 300; prices 4000/4602 -> sigma 301 > 300
    bk = book([(4000, C)], [(4300, C)])
    cfg = config(min_spread="0.02")
    gated = compute_quotes(inputs(cfg, bk, trades=(trade(4000, age_ms=1), trade(4602))))
    assert (gated.targets, gated.reason) == ((), "volatility_gate")
    assert (gated.record.volatility, gated.record.gate_threshold, gated.record.gated) == (
        301,
        300,
        True,
    )


def test_std_dev_exactly_at_the_threshold_does_not_gate() -> None:
    bk = book([(4000, C)], [(4300, C)])
    decision = compute_quotes(
        inputs(config(min_spread="0.02"), bk, trades=(trade(4000, age_ms=1), trade(4600)))
    )
    assert decision.reason == "quoted"
    assert decision.record.volatility == 300 and not decision.record.gated


def test_gate_threshold_is_clamped_to_eight_cents() -> None:
    # spread 0.40 -> threshold 800; sigma 900 gates even though it is under the spread
    bk = book([(3000, C)], [(7000, C)])
    decision = compute_quotes(inputs(bk=bk, trades=(trade(4000, age_ms=1), trade(5800))))
    assert decision.record.gate_threshold == 800
    assert decision.reason == "volatility_gate"


def test_volatility_sample_takes_the_last_12_hours_when_larger() -> None:
    # 7 trades in 12 h: the last 5 alone are calm, all 7 are not
    # (sigma 1129 > 800 over 5x4500 and 2x2000)
    calm = tuple(trade(4500, age_ms=i) for i in range(5))
    wild = (trade(2000, age_ms=6 * HOUR), trade(2000, age_ms=7 * HOUR))
    decision = compute_quotes(inputs(trades=calm + wild))
    assert decision.record.volatility_prices == 7
    assert decision.reason == "volatility_gate"
    late = (trade(2000, age_ms=13 * HOUR), trade(2000, age_ms=14 * HOUR))
    assert compute_quotes(inputs(trades=calm + late)).reason == "quoted"


def test_volatility_gate_can_be_switched_off() -> None:
    decision = compute_quotes(
        inputs(config(volatility_gate=False), trades=(trade(3000, age_ms=1), trade(6000)))
    )
    assert decision.reason == "quoted" and not decision.record.gated


def test_gated_position_exits_when_profitable_at_the_near_touch() -> None:
    volatile = (trade(3000, age_ms=1), trade(6000))
    decision = compute_quotes(inputs(trades=volatile, position=long(8 * C, 3500)))
    assert decision.record.mode == "volatility_exit"
    assert quotes(decision) == [(Side.ASK, 4900, 8 * C, 0)]
    decision = compute_quotes(inputs(trades=volatile, position=short(8 * C, 5500)))
    assert quotes(decision) == [(Side.BID, 4100, 8 * C, 0)]


def test_gated_position_judged_at_the_near_touch_not_the_far_one() -> None:
    # long at 45c: the far touch (ask 50c) looks profitable, the near touch (bid 40c) is not
    volatile = (trade(3000, age_ms=1), trade(6000))
    decision = compute_quotes(inputs(trades=volatile, position=long(8 * C, 4500)))
    assert (decision.targets, decision.reason) == ((), "volatility_gate")
    decision = compute_quotes(inputs(trades=volatile, position=short(8 * C, 4500)))
    assert decision.reason == "volatility_gate"


def test_empty_book_without_fair_value_quotes_nothing() -> None:
    decision = compute_quotes(inputs(bk=book()))
    assert (decision.targets, decision.reason) == ((), "no_two_sided_book")
    decision = compute_quotes(inputs(bk=book([(4000, C)])))
    assert decision.reason == "no_two_sided_book"


def test_empty_book_with_fair_value_quotes_around_it() -> None:
    decision = compute_quotes(inputs(config(fair_value="0.50"), bk=book()))
    assert quotes(decision) == [(Side.BID, 4700, 10 * C, 0), (Side.ASK, 5300, 10 * C, 0)]
    assert decision.record.bid_rule == "fv_half_spread"
    assert decision.record.book.spread is None


def test_one_sided_book_with_fair_value_uses_the_touch_it_has() -> None:
    decision = compute_quotes(inputs(config(fair_value="0.50"), bk=book([(4000, C)])))
    assert quotes(decision) == [(Side.BID, 4100, 10 * C, 0), (Side.ASK, 5300, 10 * C, 0)]
    decision = compute_quotes(inputs(config(fair_value="0.50"), bk=book([], [(6000, C)])))
    assert quotes(decision) == [(Side.BID, 4700, 10 * C, 0), (Side.ASK, 5900, 10 * C, 0)]


def test_a_trade_stamped_after_our_clock_counts_as_the_newest() -> None:
    skewed = (trade(4200, 10 * C, age_ms=-2000), trade(4800, 10 * C, age_ms=12 * HOUR))
    record = compute_quotes(inputs(trades=skewed)).record
    # weights 1 (age clamped to 0) and 1/2 -> (4200 + 2400) / 1.5 = 4400
    assert (record.fair_value, record.fv_trades) == (4400, 2)
