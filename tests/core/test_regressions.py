"""One test per defect of the predecessor bot that must not come back
(docs/compatibility.md#predecessor-defects)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dora.core.diff import diff_orders
from dora.core.market_config import GlobalConfig
from dora.core.models import PositionState, RiskState, Side
from dora.core.positions import apply_fills, apply_settlement, roll_daily
from dora.core.risk import RiskContext, check_plan, evaluate_halt
from dora.core.strategies.base import remove_own_orders
from dora.core.strategies.classic import compute_quotes
from dora.core.units import format_price
from tests.core.builders import NOW, TICKER, C, book, config, fill, inputs, order, short

PREFIX = "dora-"


@pytest.mark.parametrize("cents", [29, 57, 58])
def test_regression_29_cents_is_not_sent_as_28(cents: int) -> None:
    price = cents * 100
    cfg = config(min_spread="0.01", tight_book_spread="0")
    bk = book([(price - 100, 10 * C)], [(price + 500, 10 * C)])
    decision = compute_quotes(inputs(cfg, bk))
    bid = decision.targets[0]
    assert (bid.side, bid.price) == (Side.BID, price)
    plan = diff_orders(
        [], {TICKER: decision.targets}, managed={TICKER}, id_prefix=PREFIX, id_salt="r-1"
    )
    assert format_price(plan.places[0].price) == f"0.{cents}00"
    # our own resting order at that price lands in the right bucket and is matched, not churned
    own = order(Side.BID, price, 10 * C)
    with_own = book([(price, 10 * C), (price - 100, 10 * C)], [(price + 500, 10 * C)])
    assert remove_own_orders(with_own, [own]) == bk
    again = diff_orders(
        [own], {TICKER: decision.targets[:1]}, managed={TICKER}, id_prefix=PREFIX, id_salt="r-2"
    )
    assert again.kept == (own,) and again.empty


def test_regression_risk_checks_apply_to_a_batch_plan() -> None:
    markets = [f"KXM-{i}" for i in range(5)]
    targets = {
        t: compute_quotes(
            inputs(
                replace(config(), market_id=t),
                book([(4000, C)], [(5000, C)], ticker=t),
                rl=replace(inputs().rules, ticker=t),
            )
        ).targets
        for t in markets
    }
    plan = diff_orders([], targets, managed=set(markets), id_prefix=PREFIX, id_salt="b-1")
    assert len(plan.places) == 10
    ctx = RiskContext(
        global_config=GlobalConfig(max_total_exposure=30 * C),
        configs={t: replace(config(), market_id=t) for t in markets},
        positions={},
        resting=[],
        available_cash=10**12,
        halted=False,
    )
    approved, rejections = check_plan(plan, ctx)
    # a flat two-sided quote risks 10 contracts either way: 3 markets fit under 30 contracts
    assert len(approved.places) == 6 and len(rejections) == 4
    assert {r.reason.split(":")[0] for r in rejections} == {"max_total_exposure"}
    disabled = replace(ctx, global_config=GlobalConfig(trading_enabled=False))
    assert check_plan(plan, disabled)[0].places == ()


def test_regression_a_partial_fill_does_not_force_cancel_and_replace() -> None:
    partial = replace(order(Side.ASK, 4900, 7 * C), filled=3 * C)
    decision = compute_quotes(inputs())
    plan = diff_orders(
        [partial], {TICKER: decision.targets}, managed={TICKER}, id_prefix=PREFIX, id_salt="p-1"
    )
    assert partial in plan.kept
    assert partial not in plan.cancels
    assert sorted((p.side, p.count) for p in plan.places) == [(Side.ASK, 3 * C), (Side.BID, 10 * C)]


def test_regression_empty_books_are_not_read_as_0_and_100() -> None:
    for bk in (book(), book([(4000, C)]), book([], [(6000, C)])):
        decision = compute_quotes(inputs(bk=bk))
        assert decision.targets == ()
        assert decision.reason == "no_two_sided_book"
        assert decision.record.book.spread is None
    assert compute_quotes(inputs(bk=book())).record.book.best_bid is None


def test_regression_max_inventory_no_is_enforced() -> None:
    cfg = config(max_inventory_yes=100, max_inventory_no=20, inventory_skew_factor=0)
    decision = compute_quotes(inputs(cfg, position=short(20 * C, 5000)))
    assert [t.side for t in decision.targets] == [Side.BID]  # no more selling at the NO cap
    plan = diff_orders(
        [],
        {TICKER: (decision.targets[0]._replace(side=Side.ASK, price=4900),)},
        managed={TICKER},
        id_prefix=PREFIX,
        id_salt="n-1",
    )
    ctx = RiskContext(
        GlobalConfig(),
        {TICKER: cfg},
        {TICKER: PositionState(TICKER, net=-20 * C)},
        [],
        10**12,
        False,
    )
    _, rejections = check_plan(plan, ctx)
    assert [r.reason.split(":")[0] for r in rejections] == ["max_inventory_no"]


def test_regression_the_fair_value_config_is_used() -> None:
    decision = compute_quotes(inputs(config(fair_value="0.43", min_spread="0.02")))
    assert decision.record.fv_source == "config"
    assert [t.price for t in decision.targets] == [4100, 4900]
    capped = compute_quotes(inputs(config(fair_value="0.405")))
    assert capped.targets[0].price == 4000


def test_regression_the_daily_loss_is_reset_each_day() -> None:
    config = GlobalConfig(max_daily_loss=100_000_000)
    yesterday = RiskState(daily_pnl=-150_000_000, day="2025-12-31")
    assert evaluate_halt(yesterday, 0, config, 0).halt
    today = roll_daily(yesterday, NOW, config.daily_reset_hour_utc)
    assert today.daily_pnl == 0 and today.day == "2026-01-01"
    assert not evaluate_halt(today, 0, config, 0).halt


def test_regression_settled_positions_are_closed() -> None:
    opened = apply_fills({}, frozenset(), [fill(Side.BID, 4000, 50 * C)])
    closed, realized = apply_settlement(opened.positions[TICKER], "no")
    assert (closed.net, closed.settled, realized) == (0, True, -20_000_000)
    ctx = RiskContext(
        GlobalConfig(max_total_exposure=50 * C),
        {TICKER: config()},
        {TICKER: closed},
        [],
        10**12,
        False,
    )
    plan = diff_orders(
        [],
        {TICKER: compute_quotes(inputs()).targets},
        managed={TICKER},
        id_prefix=PREFIX,
        id_salt="s-1",
    )
    assert check_plan(plan, ctx)[1] == ()  # no phantom inventory eating the exposure cap
