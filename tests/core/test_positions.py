from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dora.core.models import Fill, PositionState, RiskState, Side
from dora.core.positions import (
    apply_fill,
    apply_fills,
    apply_settlement,
    avg_entry_price,
    held_since_ms,
    roll_daily,
    trading_day,
    unrealized_pnl,
    with_known_age,
)
from tests.core.builders import NOW, TICKER, C, book, fill

FLAT = PositionState(TICKER)


def run(*fills: Fill, start: PositionState = FLAT) -> tuple[PositionState, int]:
    state, total = start, 0
    for f in fills:
        state, delta = apply_fill(state, f)
        total += delta
    return state, total


def test_a_buy_opens_a_long_lot_and_pays_the_fee() -> None:
    state, realized = run(fill(Side.BID, 4000, 10 * C, fee=70_000))
    assert state == PositionState(
        TICKER, net=10 * C, open_cost=4_000_000, realized_pnl=-70_000, fees_paid=70_000,
        opened_ms=NOW,
    )
    assert realized == -70_000
    assert avg_entry_price(state) == 4000


def test_a_partial_sell_realizes_against_the_average_entry() -> None:
    state, realized = run(fill(Side.BID, 4000, 10 * C), fill(Side.ASK, 5000, 4 * C, fee=10_000))
    assert (state.net, state.open_cost) == (6 * C, 2_400_000)
    assert realized == 400_000 - 10_000
    assert state.realized_pnl == 390_000 and state.fees_paid == 10_000


def test_flipping_through_zero_realizes_the_closed_part_and_opens_the_rest() -> None:
    state, realized = run(fill(Side.BID, 4000, 10 * C), fill(Side.ASK, 5000, 15 * C))
    assert realized == 1_000_000
    assert (state.net, state.open_cost) == (-5 * C, 2_500_000)
    assert avg_entry_price(state) == 5000


def test_a_short_is_covered_at_a_profit() -> None:
    state, realized = run(fill(Side.ASK, 6000, 10 * C), fill(Side.BID, 5000, 10 * C))
    assert (state.net, state.open_cost, realized) == (0, 0, 1_000_000)
    assert avg_entry_price(state) is None


def test_average_entry_rounds_half_up_and_partial_closes_lose_nothing() -> None:
    state, _ = run(fill(Side.BID, 4100, C, fill_id="a"), fill(Side.BID, 4200, 2 * C, fill_id="b"))
    assert avg_entry_price(state) == 4167  # 1_250_000 / 300
    state, first = apply_fill(state, fill(Side.ASK, 4200, C, fill_id="c"))
    state, rest = apply_fill(state, fill(Side.ASK, 4200, 2 * C, fill_id="d"))
    assert first + rest == 4200 * 300 - 1_250_000  # exact over the round trip
    assert state.open_cost == 0


def test_apply_fills_is_idempotent_by_fill_id() -> None:
    fills = [fill(Side.BID, 4000, 10 * C, fill_id="f1"), fill(Side.ASK, 4500, 5 * C, fill_id="f2")]
    once = apply_fills({}, frozenset(), fills)
    again = apply_fills(once.positions, once.seen, fills)
    assert again.positions == once.positions
    assert again.applied == () and again.realized == 0
    doubled = apply_fills({}, frozenset(), fills + fills)
    assert doubled.positions == once.positions and len(doubled.applied) == 2
    assert once.seen == {"f1", "f2"}
    assert once.realized == 250_000


def test_apply_fills_applies_in_time_order() -> None:
    late = fill(Side.ASK, 5000, 10 * C, fill_id="late", ts_ms=NOW + 1)
    early = fill(Side.BID, 4000, 10 * C, fill_id="early", ts_ms=NOW)
    result = apply_fills({}, frozenset(), [late, early])
    assert [f.fill_id for f, _ in result.applied] == ["early", "late"]
    assert result.realized == 1_000_000 and result.positions[TICKER].net == 0


@pytest.mark.parametrize(
    ("result", "start", "expected"),
    [
        ("yes", PositionState(TICKER, net=10 * C, open_cost=4_000_000), 6_000_000),
        ("no", PositionState(TICKER, net=10 * C, open_cost=4_000_000), -4_000_000),
        ("yes", PositionState(TICKER, net=-10 * C, open_cost=4_000_000), -6_000_000),
        ("no", PositionState(TICKER, net=-10 * C, open_cost=4_000_000), 4_000_000),
        ("void", PositionState(TICKER, net=10 * C, open_cost=4_000_000, realized_pnl=-5), 0),
    ],
)
def test_settlement_closes_the_position_at_one_or_zero(
    result: str, start: PositionState, expected: int
) -> None:
    closed, realized = apply_settlement(start, result)
    assert realized == expected
    assert (closed.net, closed.open_cost, closed.settled) == (0, 0, True)
    assert closed.realized_pnl == start.realized_pnl + expected


def test_settlement_is_applied_once_and_later_fills_are_ignored() -> None:
    closed, _ = apply_settlement(PositionState(TICKER, net=C, open_cost=4000 * C), "yes")
    assert apply_settlement(closed, "no") == (closed, 0)
    assert apply_fill(closed, fill(Side.BID, 4000, C)) == (closed, 0)


def test_unknown_settlement_results_are_refused() -> None:
    with pytest.raises(ValueError, match="scalar"):
        apply_settlement(PositionState(TICKER, net=C, open_cost=4000 * C), "scalar")


def test_unrealized_marks_longs_at_the_bid_and_shorts_at_the_ask() -> None:
    bk = book([(4500, C)], [(4700, C)])
    assert unrealized_pnl(PositionState(TICKER, net=10 * C, open_cost=4_000_000), bk) == 500_000
    assert unrealized_pnl(PositionState(TICKER, net=-10 * C, open_cost=5_000_000), bk) == 300_000


def test_unrealized_is_zero_without_a_price_to_mark_at() -> None:
    held = PositionState(TICKER, net=10 * C, open_cost=4_000_000)
    assert unrealized_pnl(held, book([], [(4700, C)])) == 0
    owed = PositionState(TICKER, net=-10 * C, open_cost=4_000_000)
    assert unrealized_pnl(owed, book([(4500, C)], [])) == 0
    assert unrealized_pnl(FLAT, book([(4500, C)], [(4700, C)])) == 0


def test_trading_day_is_the_utc_date_shifted_by_the_reset_hour() -> None:
    assert trading_day(NOW, 0) == "2026-01-01"
    assert trading_day(NOW - 1, 0) == "2025-12-31"
    assert trading_day(NOW + 5 * 3_600_000 - 1, 5) == "2025-12-31"
    assert trading_day(NOW + 5 * 3_600_000, 5) == "2026-01-01"


def test_roll_daily_resets_daily_pnl_when_the_day_changes() -> None:
    today = RiskState(daily_pnl=-50_000_000, day="2026-01-01")
    assert roll_daily(today, NOW + 1000, 0) is today
    rolled = roll_daily(today, NOW + 86_400_000, 0)
    assert (rolled.daily_pnl, rolled.day) == (0, "2026-01-02")


def test_roll_daily_lifts_a_loss_halt_but_not_a_manual_one() -> None:
    lost = RiskState(
        daily_pnl=-200_000_000,
        day="2025-12-31",
        trading_halted=True,
        halt_reason="daily_loss: realized -200.000000",
    )
    rolled = roll_daily(lost, NOW, 0)
    assert (rolled.trading_halted, rolled.halt_reason) == (False, "")
    manual = RiskState(day="2025-12-31", trading_halted=True, halt_reason="operator")
    assert roll_daily(manual, NOW, 0).trading_halted


# -- properties ------------------------------------------------------------------------------------

fills_strategy = st.lists(
    st.builds(
        lambda i, side, price, count, fee, ts: Fill(
            f"f{i}", "o", TICKER, side, price, count, fee, False, NOW + ts
        ),
        st.integers(min_value=0, max_value=10_000),
        st.sampled_from(list(Side)),
        st.integers(min_value=1, max_value=9_999),
        st.integers(min_value=1, max_value=5_000),
        st.integers(min_value=0, max_value=100_000),
        st.integers(min_value=0, max_value=1_000),
    ),
    max_size=30,
    unique_by=lambda f: f.fill_id,
)


@settings(max_examples=200, deadline=None)
@given(fills_strategy)
def test_position_is_the_sum_of_signed_fill_counts(fills: list[Fill]) -> None:
    result = apply_fills({}, frozenset(), fills)
    net = result.positions.get(TICKER, FLAT).net
    assert net == sum(f.count * f.side.sign for f in fills)


@settings(max_examples=200, deadline=None)
@given(fills_strategy, st.randoms(use_true_random=False))
def test_duplicates_and_shuffling_do_not_change_the_state(
    fills: list[Fill], rng: random.Random
) -> None:
    once = apply_fills({}, frozenset(), fills)
    noisy = fills + rng.sample(fills, len(fills) // 2)
    rng.shuffle(noisy)
    assert apply_fills({}, frozenset(), noisy).positions == once.positions
    assert apply_fills(once.positions, once.seen, noisy).positions == once.positions


@settings(max_examples=200, deadline=None)
@given(fills_strategy, st.integers(min_value=1, max_value=9_999))
def test_realized_plus_unrealized_equals_cash_flow_at_the_mark(
    fills: list[Fill], mark: int
) -> None:
    result = apply_fills({}, frozenset(), fills)
    state = result.positions.get(TICKER, FLAT)
    cash = sum(-f.side.sign * f.price * f.count - f.fee for f in fills)
    marked = book([(mark, C)], [(mark, C)])
    assert state.realized_pnl + unrealized_pnl(state, marked) == cash + state.net * mark
    assert result.realized == state.realized_pnl
    settled, _ = apply_settlement(state, "yes")
    assert settled.realized_pnl == cash + state.net * 10_000


def test_the_lot_age_follows_opening_reducing_flat_and_flipping_fills() -> None:
    opened, _ = run(fill(Side.BID, 4000, 10 * C, ts_ms=NOW))
    added, _ = apply_fill(opened, fill(Side.BID, 4100, C, ts_ms=NOW + 5))
    assert (added.opened_ms, added.last_reduced_ms, held_since_ms(added)) == (NOW, 0, NOW)
    reduced, _ = apply_fill(added, fill(Side.ASK, 4200, C, ts_ms=NOW + 9))
    assert (reduced.opened_ms, reduced.last_reduced_ms, held_since_ms(reduced)) == (
        NOW, NOW + 9, NOW + 9)
    flipped, _ = apply_fill(reduced, fill(Side.ASK, 4200, 12 * C, ts_ms=NOW + 20))
    assert (flipped.net, flipped.opened_ms, flipped.last_reduced_ms) == (-2 * C, NOW + 20, 0)
    flat, _ = apply_fill(flipped, fill(Side.BID, 4000, 2 * C, ts_ms=NOW + 30))
    assert (flat.net, flat.opened_ms, flat.last_reduced_ms, held_since_ms(flat)) == (
        0, 0, NOW + 30, 0)
    settled, _ = apply_settlement(reduced, "yes")
    assert settled.opened_ms == 0 and held_since_ms(settled) == 0


def test_an_open_position_of_unknown_age_counts_from_now() -> None:
    unknown = PositionState(TICKER, net=3 * C, open_cost=150_000)
    known = PositionState("OTHER", net=-C, open_cost=40_000, opened_ms=NOW - 9)
    flat = PositionState("FLAT")
    stamped = with_known_age({TICKER: unknown, "OTHER": known, "FLAT": flat}, NOW)
    assert stamped[TICKER].opened_ms == NOW
    assert stamped["OTHER"] == known and stamped["FLAT"] == flat
