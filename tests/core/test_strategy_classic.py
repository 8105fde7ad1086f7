"""The classic strategy, one rule per test. Prices in $0.0001 (4100 = 41c), counts in 0.01."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dora.core.market_config import InvalidMarketConfig
from dora.core.models import DECI_CENT, TAPERED_DECI_CENT, MarketStatus, OrderStatus, Side
from dora.core.strategies.base import QuoteDecision, TargetQuote, remove_own_orders
from dora.core.strategies.classic import compute_quotes, compute_targets
from tests.core.builders import (
    NOW,
    TICKER,
    C,
    book,
    config,
    inputs,
    long,
    order,
    rules,
    short,
)


def quotes(decision: QuoteDecision) -> list[tuple[Side, int, int, int]]:
    return [(t.side, t.price, t.size, t.level) for t in decision.targets]


def test_flat_two_sided_book_quotes_one_tick_inside_both_sides() -> None:
    decision = compute_quotes(inputs())
    assert decision.reason == "quoted"
    assert quotes(decision) == [(Side.BID, 4100, 10 * C, 0), (Side.ASK, 4900, 10 * C, 0)]
    record = decision.record
    assert (record.bid_rule, record.ask_rule) == ("inside_touch", "inside_touch")
    assert (record.book.best_bid, record.book.best_ask, record.book.spread, record.book.mid) == (
        4000,
        5000,
        1000,
        4500,
    )
    assert (record.fair_value, record.fv_source, record.mode) == (4500, "mid", "normal")


def test_book_spread_under_tight_book_spread_quotes_at_the_touch() -> None:
    decision = compute_quotes(inputs(config(min_spread="0.04"), book([(4000, C)], [(4500, C)])))
    assert quotes(decision) == [(Side.BID, 4000, 10 * C, 0), (Side.ASK, 4500, 10 * C, 0)]
    assert decision.record.bid_rule == "at_touch"


def test_tight_book_spread_is_configurable() -> None:
    cfg = config(min_spread="0.03", tight_book_spread="0.05")
    decision = compute_quotes(inputs(cfg, book([(4000, C)], [(4500, C)])))
    assert [t.price for t in decision.targets] == [4100, 4400]


def test_one_tick_spread_stays_at_the_touch_instead_of_locking() -> None:
    cfg = config(min_spread="0.01", tight_book_spread="0")
    decision = compute_quotes(inputs(cfg, book([(4000, C)], [(4100, C)])))
    assert [t.price for t in decision.targets] == [4000, 4100]


def test_fair_value_caps_the_bid() -> None:
    decision = compute_quotes(inputs(config(fair_value="0.405")))
    assert quotes(decision)[0] == (Side.BID, 4000, 10 * C, 0)  # 40.5c capped, snapped down
    assert decision.record.bid_rule == "fv_cap"
    assert decision.record.ask_price == 4900


def test_fair_value_caps_the_ask() -> None:
    decision = compute_quotes(inputs(config(fair_value="0.495")))
    assert decision.record.ask_price == 5000  # 49.5c raised to FV, snapped up
    assert decision.record.ask_rule == "fv_cap"


def test_long_skew_lowers_the_ask_and_keeps_the_bid_at_the_touch() -> None:
    # long 50 of 100, factor 1, min_spread 0.06: skew = 0.5 * 1 * 600 = 300
    cfg = config(inventory_skew_factor=1)
    decision = compute_quotes(
        inputs(cfg, book([(3000, C)], [(7000, C)]), position=long(50 * C, 5000))
    )
    record = decision.record
    assert record.skew == 300
    assert (record.bid_price, record.bid_rule) == (3000, "at_touch")
    assert (record.ask_price, record.ask_rule) == (6600, "inside_touch")


def test_short_skew_uses_the_no_cap_and_raises_the_bid() -> None:
    # short 50 with max_inventory_no 50 -> ratio -1 -> skew -600 (yes cap 100 would give -300)
    cfg = config(inventory_skew_factor=1, max_inventory_no=50)
    decision = compute_quotes(
        inputs(cfg, book([(3000, C)], [(7000, C)]), position=short(50 * C, 5000))
    )
    assert decision.record.skew == -600
    assert decision.record.bid_price == 3700
    assert (decision.record.ask_price, decision.record.ask_rule) == (7000, "at_touch")


def test_fractional_skew_rounds_the_bid_down_and_the_ask_up_on_the_grid() -> None:
    # long 10/100 * 0.25 * 600 = 15 -> bid 4100-15 floored at touch? no: 4085 > 4000, snapped 4080
    cfg = config(inventory_skew_factor="0.25")
    decision = compute_quotes(inputs(cfg, rl=rules(ranges=DECI_CENT), position=long(10 * C, 4500)))
    assert decision.record.skew == 15
    assert (decision.record.bid_price, decision.record.ask_price) == (4000, 4980)
    cfg = config(inventory_skew_factor="0.25", tight_book_spread="0")
    decision = compute_quotes(
        inputs(
            cfg,
            book([(4000, C)], [(4700, C)]),
            rl=rules(ranges=DECI_CENT),
            position=short(10 * C, 4500),
        )
    )
    # bid base 4010 + 15 = 4025 -> 4020 (down); ask base 4690 + 15 = 4705 capped at touch 4700
    assert (decision.record.bid_price, decision.record.ask_price) == (4020, 4700)


def test_target_spread_under_min_spread_quotes_only_the_reducing_side() -> None:
    cfg = config(min_spread="0.09")  # book spread 0.10 >= 0.09, inside spread 0.08 < 0.09
    flat = compute_quotes(inputs(cfg))
    assert (flat.targets, flat.reason) == ((), "min_spread_flat")
    held = compute_quotes(inputs(cfg, position=long(20 * C, 4000)))
    assert quotes(held) == [(Side.ASK, 4900, 20 * C, 0)]
    assert held.record.ask_rule == "min_spread_one_sided"
    owed = compute_quotes(inputs(cfg, position=short(20 * C, 5000)))
    assert quotes(owed) == [(Side.BID, 4100, 20 * C, 0)]


def test_book_spread_under_min_spread_is_exit_only_with_the_whole_position() -> None:
    cfg = config(min_spread="0.50", quote_size=1)
    decision = compute_quotes(inputs(cfg, position=long(7 * C, 4000)))
    assert quotes(decision) == [(Side.ASK, 4900, 7 * C, 0)]
    assert decision.record.mode == "exit_only"
    decision = compute_quotes(inputs(cfg, position=short(30 * C, 5000)))
    assert quotes(decision) == [(Side.BID, 4100, 30 * C, 0)]


def test_exit_only_when_flat_quotes_nothing() -> None:
    decision = compute_quotes(inputs(config(min_spread="0.50")))
    assert (decision.targets, decision.reason) == ((), "exit_only_flat")


def test_adding_side_tapers_linearly_from_80_to_100_percent_of_its_cap() -> None:
    def bid_size(net: int) -> int | None:
        decision = compute_quotes(inputs(config(inventory_skew_factor=0), position=long(net, 4000)))
        return next((t.size for t in decision.targets if t.side is Side.BID), None)

    assert bid_size(80 * C) == 10 * C
    assert bid_size(90 * C) == 5 * C
    assert bid_size(95 * C) == 2 * C  # 2.5 rounded down to a whole contract
    assert bid_size(99 * C) is None  # 0.5 -> 0
    assert bid_size(100 * C) is None


def test_short_taper_uses_max_inventory_no() -> None:
    cfg = config(inventory_skew_factor=0, max_inventory_no=50)
    decision = compute_quotes(inputs(cfg, position=short(45 * C, 5000)))
    assert {t.side: t.size for t in decision.targets} == {Side.BID: 45 * C, Side.ASK: 5 * C}


def test_reducing_side_offers_at_least_the_whole_position() -> None:
    decision = compute_quotes(inputs(config(inventory_skew_factor=0), position=long(37 * C, 4000)))
    assert {t.side: t.size for t in decision.targets} == {Side.BID: 10 * C, Side.ASK: 37 * C}
    decision = compute_quotes(inputs(config(inventory_skew_factor=0), position=long(3 * C, 4000)))
    assert {t.side: t.size for t in decision.targets} == {Side.BID: 10 * C, Side.ASK: 10 * C}


def test_fractional_markets_keep_fractional_sizes() -> None:
    cfg = config(inventory_skew_factor=0)
    decision = compute_quotes(inputs(cfg, rl=rules(fractional=True), position=long(95 * C, 4000)))
    assert {t.side: t.size for t in decision.targets}[Side.BID] == 250


def test_levels_step_away_from_the_touch_by_the_spacing() -> None:
    decision = compute_quotes(inputs(config(levels=3, level_spacing_ticks=2)))
    assert quotes(decision) == [
        (Side.BID, 4100, 10 * C, 0),
        (Side.BID, 3900, 10 * C, 1),
        (Side.BID, 3700, 10 * C, 2),
        (Side.ASK, 4900, 10 * C, 0),
        (Side.ASK, 5100, 10 * C, 1),
        (Side.ASK, 5300, 10 * C, 2),
    ]


def test_levels_on_the_adding_side_never_exceed_the_room_under_the_cap() -> None:
    cfg = config(levels=3, max_inventory_yes=25, max_inventory_no=12)
    decision = compute_quotes(inputs(cfg))
    assert [(t.side, t.size) for t in decision.targets] == [
        (Side.BID, 10 * C),
        (Side.BID, 10 * C),
        (Side.BID, 5 * C),
        (Side.ASK, 10 * C),
        (Side.ASK, 2 * C),
    ]


def test_levels_stop_at_the_edge_of_the_grid() -> None:
    decision = compute_quotes(
        inputs(config(levels=3), book([(100, C)], [(9800, C)]), rl=rules(ranges=DECI_CENT))
    )
    bids = [t.price for t in decision.targets if t.side is Side.BID]
    asks = [t.price for t in decision.targets if t.side is Side.ASK]
    assert bids == [110, 100, 90] and asks == [9790, 9800, 9810]
    decision = compute_quotes(
        inputs(config(levels=3, min_spread="0.01"), book([(100, C)], [(9900, C)]))
    )
    assert [t.price for t in decision.targets if t.side is Side.ASK] == [9800, 9900]


def test_tapered_grid_snaps_bids_down_and_asks_up() -> None:
    # fv 0.0955 caps the bid: on the 0.01 grid above 0.10? no, 0.0955 is in the 0.001 zone -> 0.095
    cfg = config(fair_value="0.0955", min_spread="0.02")
    decision = compute_quotes(
        inputs(cfg, book([(500, C)], [(2000, C)]), rl=rules(ranges=TAPERED_DECI_CENT))
    )
    assert decision.record.bid_price == 510  # one tick (0.001) inside 0.05
    cfg = config(fair_value="0.1050", min_spread="0.02")
    decision = compute_quotes(
        inputs(cfg, book([(1200, C)], [(3000, C)]), rl=rules(ranges=TAPERED_DECI_CENT))
    )
    assert (decision.record.bid_price, decision.record.bid_rule) == (1000, "fv_cap")
    cfg = config(fair_value="0.0955", min_spread="0.02")
    decision = compute_quotes(
        inputs(cfg, book([(100, C)], [(900, C)]), rl=rules(ranges=TAPERED_DECI_CENT))
    )
    assert (decision.record.ask_price, decision.record.ask_rule) == (960, "fv_cap")


def test_quotes_never_cross_the_opposite_best() -> None:
    # asks only at 0.40 while the configured fair value says 0.50: a short's bid would take it
    decision = compute_quotes(
        inputs(config(fair_value="0.50"), bk=book([], [(4000, C)]), position=short(10 * C, 5000))
    )
    assert quotes(decision) == [(Side.BID, 3900, 10 * C, 0)]
    assert decision.record.bid_rule == "post_only_guard"
    decision = compute_quotes(
        inputs(config(fair_value="0.40"), bk=book([(5000, C)]), position=long(10 * C, 4000))
    )
    assert quotes(decision) == [(Side.ASK, 5100, 10 * C, 0)]


@pytest.mark.parametrize(
    "status",
    [MarketStatus.INACTIVE, MarketStatus.CLOSED, MarketStatus.FINALIZED, MarketStatus.INITIALIZED],
)
def test_no_quotes_when_the_market_is_not_open(status: MarketStatus) -> None:
    decision = compute_quotes(inputs(rl=rules(status=status)))
    assert (decision.targets, decision.reason) == ((), "market_not_open")


def test_no_quotes_inside_the_close_guard() -> None:
    at_guard = compute_quotes(inputs(rl=rules(close_ms=NOW + 600_000)))
    assert (at_guard.targets, at_guard.reason) == ((), "close_guard")
    assert compute_quotes(inputs(rl=rules(close_ms=NOW + 600_001))).reason == "quoted"


def test_no_quotes_for_a_disabled_or_invalid_config() -> None:
    assert compute_quotes(inputs(config(enabled=False))).reason == "config_disabled"
    invalid = InvalidMarketConfig(TICKER, "quote_size is negative", {})
    decision = compute_quotes(inputs(invalid))
    assert (decision.targets, decision.reason) == ((), "config_invalid")


def test_crossed_book_quotes_nothing() -> None:
    decision = compute_quotes(inputs(bk=book([(5000, C)], [(5000, C)])))
    assert decision.reason == "book_crossed"


def test_zero_quote_size_quotes_nothing() -> None:
    decision = compute_quotes(inputs(config(quote_size=0)))
    assert (decision.targets, decision.reason) == ((), "no_size")


def test_compute_targets_keys_decisions_by_market() -> None:
    other = "KXOTHER"
    decisions = compute_targets(
        [
            inputs(),
            replace(
                inputs(),
                rules=rules(ticker=other),
                book=book([(2000, C)], [(3000, C)], other),
                config=replace(config(), market_id=other),
            ),
        ]
    )
    assert set(decisions) == {TICKER, other}
    assert decisions[other].targets[0] == TargetQuote(other, Side.BID, 2100, 10 * C, 0)


def test_remove_own_orders_subtracts_level_by_level() -> None:
    full = book([(4100, 10 * C), (4000, 50 * C)], [(4900, 10 * C), (5000, 5 * C)])
    own = [
        order(Side.BID, 4100, 10 * C),  # removes the whole level
        order(Side.BID, 4000, 20 * C, oid="a"),
        order(Side.BID, 4000, 5 * C, oid="b"),
        order(Side.ASK, 5000, 2 * C),
        order(Side.ASK, 4900, 3 * C, ticker="KXOTHER"),  # another market: ignored
        replace(order(Side.ASK, 4900, 3 * C), status=OrderStatus.CANCELED),  # not resting
    ]
    mine = remove_own_orders(full, own)
    assert [(lv.price, lv.count) for lv in mine.bids] == [(4000, 25 * C)]
    assert [(lv.price, lv.count) for lv in mine.asks] == [(4900, 10 * C), (5000, 3 * C)]


def test_own_orders_removed_change_the_touch_the_strategy_sees() -> None:
    full = book([(4100, 10 * C), (4000, 50 * C)], [(4900, 10 * C), (5000, 5 * C)])
    own = [order(Side.BID, 4100, 10 * C), order(Side.ASK, 4900, 10 * C)]
    decision = compute_quotes(inputs(bk=remove_own_orders(full, own)))
    assert [t.price for t in decision.targets] == [4100, 4900]  # not 4200/4800 chasing ourselves


def test_record_as_dict_is_json_friendly() -> None:
    record = compute_quotes(
        inputs(config(inventory_skew_factor=1), position=long(10 * C, 4000))
    ).record
    data = record.as_dict()
    assert data["skew"] == "60" and data["fv_source"] == "mid" and data["position"] == 10 * C
    assert all(isinstance(v, (int, str, bool, type(None))) for v in data.values())
