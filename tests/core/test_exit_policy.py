"""The exit policy: every rule, its priority when several apply, and how a close is priced.
Prices in $0.0001 (4100 = 41c), counts in 0.01 contract, cash in micro-dollars."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dora.core.exit_policy import (
    LOW_CASH,
    MARKET_CLOSING,
    STOP_LOSS,
    STUCK,
    TAKE_PROFIT,
    UNMANAGED,
    CloseWalk,
    ExitInputs,
    ExitSettings,
    compute_exit,
    exit_settings,
    low_cash_sizes,
    unrealized_after_fees,
)
from dora.core.fees import taker_fee
from dora.core.market_config import GlobalConfig
from dora.core.models import MarketStatus, OrderBook, PositionState, Side
from dora.core.strategies.record import summarize_book
from tests.core.builders import HOUR, NOW, TICKER, C, book, config, rules

MINUTE = 60_000
BOOK = book([(4800, 20 * C), (4700, 20 * C)], [(5200, 20 * C), (5300, 20 * C)])  # mid 50c


def held(net: int, avg: int, opened_ms: int = NOW - HOUR, ticker: str = TICKER) -> PositionState:
    return PositionState(ticker, net=net, open_cost=abs(net) * avg, opened_ms=opened_ms)


def exit_inputs(
    position: PositionState | None = None, bk: OrderBook = BOOK, close_in_ms: int = 72 * HOUR,
    managed: bool = True, walk: CloseWalk | None = None, low_cash: int = 0,
    fair_value: int | None = None, status: MarketStatus = MarketStatus.ACTIVE, **settings: int,
) -> ExitInputs:
    return ExitInputs(
        rules=rules(status=status, close_ms=NOW + close_in_ms),
        book=bk, position=position or held(5 * C, 5000), settings=ExitSettings(**settings),
        managed=managed, fair_value=fair_value, now_ms=NOW, walk=walk, low_cash_size=low_cash,
    )


def test_no_rule_applies_no_intent() -> None:
    assert compute_exit(exit_inputs()) is None


@pytest.mark.parametrize("position", [PositionState(TICKER), replace(held(5 * C, 5000),
                                                                        settled=True)])
def test_a_flat_or_settled_position_has_nothing_to_close(position: PositionState) -> None:
    assert compute_exit(exit_inputs(position, close_in_ms=MINUTE)) is None


def test_a_market_that_is_not_open_cannot_be_closed_into() -> None:
    assert compute_exit(exit_inputs(close_in_ms=MINUTE, status=MarketStatus.INACTIVE)) is None


def test_market_closing_walks_out_passively_from_the_near_touch() -> None:
    intent = compute_exit(exit_inputs(close_in_ms=5 * MINUTE))
    assert intent is not None
    assert (intent.reason, intent.side, intent.size, intent.immediate) == (
        MARKET_CLOSING, Side.ASK, 5 * C, False)
    assert intent.price == 5200  # joins the best ask
    assert intent.target is not None and intent.target.close == MARKET_CLOSING


def test_market_closing_within_the_urgent_window_crosses_within_the_slippage_bound() -> None:
    intent = compute_exit(exit_inputs(close_in_ms=MINUTE, max_slippage=300))
    assert intent is not None and intent.immediate
    assert intent.price == 4700  # mid 50c - 3c: sweeps the bids down to 47c, no further
    assert intent.target is not None and intent.target.immediate


def test_an_urgent_close_with_no_bid_inside_the_bound_stays_passive() -> None:
    intent = compute_exit(exit_inputs(close_in_ms=MINUTE, max_slippage=100))
    assert intent is not None and not intent.immediate
    assert intent.price == 5200


def test_stop_loss_fires_on_the_loss_after_the_closing_fee_and_is_urgent() -> None:
    position = held(10 * C, 5500)  # marked at the 48c bid: -$0.70, minus the closing fee
    expected = 4800 * 10 * C - 5500 * 10 * C - taker_fee(10 * C, 4800)
    assert unrealized_after_fees(position, summarize_book(BOOK)) == expected
    assert compute_exit(exit_inputs(position, stop_loss=-expected)) is None  # not beyond it
    intent = compute_exit(exit_inputs(position, stop_loss=-expected - 1))
    assert intent is not None and (intent.reason, intent.immediate) == (STOP_LOSS, True)
    assert intent.price == 4500 and intent.unrealized == expected  # the default 5c bound
    intent = compute_exit(exit_inputs(position, stop_loss=1, max_slippage=200))
    assert intent is not None and intent.price == 4800


def test_take_profit_closes_a_winner_passively() -> None:
    position = held(10 * C, 4000)  # +$0.80 at the 48c bid, less the fee
    intent = compute_exit(exit_inputs(position, take_profit=500_000))
    assert intent is not None
    assert (intent.reason, intent.immediate, intent.price) == (TAKE_PROFIT, False, 5200)
    assert compute_exit(exit_inputs(position, take_profit=900_000)) is None


def test_a_short_position_closes_on_the_bid_side() -> None:
    position = held(-4 * C, 5000)
    intent = compute_exit(exit_inputs(position, take_profit=1, stop_loss=None))
    assert intent is None  # a short at 50c marked at the 52c ask is losing
    intent = compute_exit(exit_inputs(position, stop_loss=50_000, max_slippage=300))
    assert intent is not None and (intent.side, intent.reason, intent.immediate) == (
        Side.BID, STOP_LOSS, True)
    assert intent.price == 5300  # mid + 3c: buys the asks up to 53c


def test_stuck_counts_from_the_last_reducing_fill() -> None:
    position = replace(held(5 * C, 5000, opened_ms=NOW - 3 * HOUR), last_reduced_ms=NOW - HOUR)
    intent = compute_exit(exit_inputs(position, max_hold_ms=2 * HOUR))
    assert intent is None
    intent = compute_exit(exit_inputs(position, max_hold_ms=HOUR - 1))
    assert intent is not None and (intent.reason, intent.immediate) == (STUCK, False)


def test_a_position_of_unknown_age_is_never_stuck() -> None:
    position = held(5 * C, 5000, opened_ms=0)
    assert compute_exit(exit_inputs(position, max_hold_ms=1)) is None


def test_an_unmanaged_market_is_left_alone_unless_close_on_disable() -> None:
    assert compute_exit(exit_inputs(managed=False, close_in_ms=MINUTE, stop_loss=1)) is None
    intent = compute_exit(exit_inputs(managed=False, close_on_disable=True))
    assert intent is not None and (intent.reason, intent.size) == (UNMANAGED, 5 * C)


def test_low_cash_closes_only_the_size_it_was_given() -> None:
    intent = compute_exit(exit_inputs(low_cash=2 * C))
    assert intent is not None and (intent.reason, intent.size) == (LOW_CASH, 2 * C)


@pytest.mark.parametrize(
    ("settings", "winner", "reasons", "immediate"),
    [
        ({"close_in_ms": 5 * MINUTE, "stop_loss": 1}, STOP_LOSS, (STOP_LOSS, MARKET_CLOSING),
         True),
        ({"close_in_ms": MINUTE, "stop_loss": 1}, STOP_LOSS, (STOP_LOSS, MARKET_CLOSING), True),
        ({"close_in_ms": 5 * MINUTE, "managed": False, "close_on_disable": True},
         MARKET_CLOSING, (MARKET_CLOSING, UNMANAGED), False),
        ({"managed": False, "close_on_disable": True, "max_hold_ms": 1}, UNMANAGED,
         (UNMANAGED, STUCK), False),
        ({"close_in_ms": 5 * MINUTE, "low_cash": C}, MARKET_CLOSING, (MARKET_CLOSING, LOW_CASH),
         False),
        ({"max_hold_ms": 1, "low_cash": C}, STUCK, (STUCK, LOW_CASH), False),
        ({"close_in_ms": MINUTE, "max_hold_ms": 1, "low_cash": C}, MARKET_CLOSING,
         (MARKET_CLOSING, STUCK, LOW_CASH), True),
    ],
)
def test_when_several_rules_apply_the_first_urgent_one_wins_else_the_first(
    settings: dict[str, int], winner: str, reasons: tuple[str, ...], immediate: bool
) -> None:
    losing = held(5 * C, 5500)  # -$0.35 at the bid: any stop loss of $0.000001 fires
    intent = compute_exit(exit_inputs(losing, max_slippage=300, **settings))
    assert intent is not None
    assert (intent.reason, intent.reasons, intent.immediate) == (winner, reasons, immediate)
    assert intent.size == 5 * C  # any full close beats a partial low-cash close


def test_take_profit_outranks_stuck_and_low_cash() -> None:
    winning = held(5 * C, 4000)
    intent = compute_exit(exit_inputs(winning, take_profit=1, max_hold_ms=1, low_cash=C))
    assert intent is not None and intent.reasons == (TAKE_PROFIT, STUCK, LOW_CASH)
    assert intent.reason == TAKE_PROFIT and intent.size == 5 * C


def test_the_passive_close_improves_one_tick_a_cycle_down_to_the_slippage_bound() -> None:
    seen, walk = [], None
    for _ in range(6):
        intent = compute_exit(exit_inputs(close_in_ms=5 * MINUTE, walk=walk, max_slippage=100))
        assert intent is not None
        seen.append(intent.price)
        walk = intent.walk
    assert seen == [5200, 5100, 5000, 4900, 4900, 4900]  # mid 50c - 1c


def test_with_no_reference_price_the_passive_close_does_not_walk() -> None:
    """No fair value and no bid to make a mid with: nothing bounds the walk, so the close rests
    at the touch instead of stepping a tick a cycle down to $0.01 for the next bidder."""
    asks_only = book([], [(5200, 20 * C)])
    seen, walk = [], None
    for _ in range(60):
        intent = compute_exit(exit_inputs(bk=asks_only, close_in_ms=5 * MINUTE, walk=walk,
                                          max_slippage=100))
        assert intent is not None and intent.reference is None
        seen.append(intent.price)
        walk = intent.walk
    assert set(seen) == {5200}


def test_the_passive_close_never_crosses_the_book() -> None:
    tight = book([(4900, C)], [(5000, C)])
    walk = CloseWalk(Side.ASK, 5000)
    intent = compute_exit(exit_inputs(bk=tight, close_in_ms=5 * MINUTE, walk=walk,
                                      max_slippage=2000))
    assert intent is not None and intent.price == 5000  # one tick above the 49c bid


def test_the_walk_joins_the_touch_when_the_book_moves_toward_it() -> None:
    lower = book([(4000, C)], [(4500, C)])
    intent = compute_exit(exit_inputs(bk=lower, close_in_ms=5 * MINUTE, max_slippage=2000,
                                      walk=CloseWalk(Side.ASK, 5100)))
    assert intent is not None and intent.price == 4500


def test_the_configured_fair_value_is_the_reference_of_the_bound() -> None:
    intent = compute_exit(exit_inputs(close_in_ms=5 * MINUTE, fair_value=6000, max_slippage=300,
                                      walk=CloseWalk(Side.ASK, 5200)))
    assert intent is not None and intent.price == 5700  # never below 60c - 3c
    assert intent.reference == 6000


def test_without_any_price_the_intent_still_stands_but_sends_nothing() -> None:
    intent = compute_exit(exit_inputs(bk=book(), close_in_ms=5 * MINUTE))
    assert intent is not None and intent.price is None and intent.target is None


def test_low_cash_closes_the_worst_positions_first_and_just_enough() -> None:
    worst = held(10 * C, 6000, ticker="A")  # -$1.20 at the 48c bid
    better = held(10 * C, 5000, ticker="B")  # -$0.20
    books = {"A": book([(4800, 50 * C)], [(5200, C)], "A"),
             "B": book([(4800, 50 * C)], [(5200, C)], "B")}
    candidates = [(better, books["B"], False), (worst, books["A"], False)]
    assert low_cash_sizes(candidates, available=10_000_000, reserve=10_000_000) == {}
    # $2.00 short: 48c a contract -> 5 contracts of the worst (4.17, rounded up to whole ones)
    assert low_cash_sizes(candidates, available=8_000_000, reserve=10_000_000) == {"A": 5 * C}
    # $6.00 short: all 10 of A ($4.80), then 3 of B
    assert low_cash_sizes(candidates, 4_000_000, 10_000_000) == {"A": 10 * C, "B": 3 * C}


def test_low_cash_values_a_short_at_one_dollar_minus_the_ask_and_skips_unpriced_ones() -> None:
    short = held(-10 * C, 5000, ticker="S")
    unpriced = held(10 * C, 1000, ticker="U")
    candidates = [(short, book([(4800, C)], [(6000, C)], "S"), True),
                  (unpriced, book([], [(5000, C)], "U"), True)]
    assert low_cash_sizes(candidates, 0, 2_000_000) == {"S": 500}  # 40c a contract, fractional


def test_settings_come_from_the_market_then_the_global_config() -> None:
    glob = GlobalConfig(stop_loss=9_000_000, close_guard_ms=300_000, urgent_before_s=30,
                        close_max_slippage=200, max_hold_s=600)
    market = config(stop_loss="2.5", close_positions_before_s=900, close_on_disable=True)
    settings = exit_settings(market, glob)
    assert settings == ExitSettings(stop_loss=2_500_000, take_profit=None, max_hold_ms=600_000,
                                    close_before_ms=900_000, urgent_before_ms=30_000,
                                    max_slippage=200, close_on_disable=True)
    defaults = exit_settings(None, GlobalConfig())
    assert defaults == ExitSettings(close_before_ms=GlobalConfig().close_guard_ms)


def test_a_close_never_asks_for_what_unread_fills_may_already_have_closed() -> None:
    intent = compute_exit(replace(exit_inputs(close_in_ms=5 * MINUTE), maybe_closed=3 * C))
    assert intent is not None and intent.size == 2 * C
    assert compute_exit(replace(exit_inputs(close_in_ms=5 * MINUTE), maybe_closed=5 * C)) is None
