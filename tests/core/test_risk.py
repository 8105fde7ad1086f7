from __future__ import annotations

from dataclasses import replace

from dora.core.diff import Decrease, Plan
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import OrderRequest, PositionState, RestingOrder, RiskState, Side
from dora.core.risk import RiskContext, check_plan, evaluate_halt, worst_case_exposure
from tests.core.builders import TICKER, C, config, order

OTHER = "KXOTHER"
RICH = 1_000_000_000_000


def request(
    side: Side, price: int, count: int, ticker: str = TICKER, cid: str = ""
) -> OrderRequest:
    return OrderRequest(ticker, side, price, count, cid or f"dora-{side}-{price}-{count}")


def context(
    *,
    positions: dict[str, int] | None = None,
    resting: list[RestingOrder] | None = None,
    cash: int = RICH,
    halted: bool = False,
    global_config: GlobalConfig | None = None,
    configs: dict[str, MarketConfig] | None = None,
) -> RiskContext:
    return RiskContext(
        global_config=global_config or GlobalConfig(max_total_exposure=1_000_000),
        configs=configs
        if configs is not None
        else {TICKER: config(), OTHER: replace(config(), market_id=OTHER)},
        positions={
            t: PositionState(t, net=n, open_cost=abs(n) * 4000)
            for t, n in (positions or {}).items()
        },
        resting=resting or [],
        available_cash=cash,
        halted=halted,
    )


def reasons(plan: Plan, ctx: RiskContext) -> list[str]:
    approved, rejections = check_plan(plan, ctx)
    assert len(approved.places) + len(rejections) == len(plan.places)
    return [r.reason.split(":")[0] for r in rejections]


def test_a_plan_within_limits_passes_whole() -> None:
    plan = Plan(places=(request(Side.BID, 4100, 10 * C), request(Side.ASK, 4900, 10 * C)))
    approved, rejections = check_plan(plan, context())
    assert approved == plan and rejections == ()


def test_trading_disabled_blocks_places_but_not_cancels_or_decreases() -> None:
    resting = order(Side.BID, 4000, 10 * C)
    plan = Plan(
        cancels=(resting,),
        decreases=(Decrease(order(Side.ASK, 5000, 9 * C), C),),
        places=(request(Side.BID, 4100, 10 * C),),
    )
    approved, rejections = check_plan(
        plan, context(global_config=GlobalConfig(trading_enabled=False))
    )
    assert approved.places == () and [r.reason for r in rejections] == ["trading_disabled"]
    assert approved.cancels == plan.cancels and approved.decreases == plan.decreases


def test_halted_blocks_places() -> None:
    assert reasons(Plan(places=(request(Side.BID, 4100, C),)), context(halted=True)) == ["halted"]


def test_markets_without_a_valid_enabled_config_are_blocked() -> None:
    ctx = context(configs={TICKER: config(enabled=False)})
    plan = Plan(places=(request(Side.BID, 4100, C), request(Side.BID, 4100, C, ticker=OTHER)))
    assert reasons(plan, ctx) == ["market_disabled", "no_valid_config"]


def test_long_cap_counts_the_position_and_resting_bids() -> None:
    ctx = context(positions={TICKER: 90 * C}, resting=[order(Side.BID, 3900, 5 * C)])
    assert reasons(Plan(places=(request(Side.BID, 4000, 6 * C),)), ctx) == ["max_inventory_yes"]
    assert reasons(Plan(places=(request(Side.BID, 4000, 5 * C),)), ctx) == []


def test_short_cap_is_max_inventory_no() -> None:
    cfg = config(max_inventory_yes=100, max_inventory_no=50)
    ctx = context(positions={TICKER: -40 * C}, configs={TICKER: cfg})
    assert reasons(Plan(places=(request(Side.ASK, 5000, 11 * C),)), ctx) == ["max_inventory_no"]
    assert reasons(Plan(places=(request(Side.ASK, 5000, 10 * C),)), ctx) == []


def test_orders_that_reduce_the_position_always_fit_the_caps() -> None:
    ctx = context(positions={TICKER: 150 * C})  # already above the 100-contract yes cap
    assert reasons(Plan(places=(request(Side.ASK, 5000, 150 * C),)), ctx) == []
    assert reasons(Plan(places=(request(Side.BID, 4000, C),)), ctx) == ["max_inventory_yes"]
    ctx = context(
        positions={TICKER: 150 * C}, global_config=GlobalConfig(max_total_exposure=100 * C)
    )
    assert reasons(Plan(places=(request(Side.ASK, 5000, 150 * C),)), ctx) == []


def test_cancels_and_decreases_in_the_plan_free_room_under_the_cap() -> None:
    old = order(Side.BID, 3900, 95 * C, oid="old")
    shrink = order(Side.BID, 3800, 5 * C, oid="shrink")
    ctx = context(resting=[old, shrink])
    place = (request(Side.BID, 4000, 98 * C),)
    assert reasons(Plan(places=place), ctx) == ["max_inventory_yes"]
    assert (
        reasons(Plan(cancels=(old,), decreases=(Decrease(shrink, 2 * C),), places=place), ctx) == []
    )


def test_approved_orders_count_toward_later_checks() -> None:
    plan = Plan(places=(request(Side.BID, 4100, 60 * C), request(Side.BID, 4000, 60 * C)))
    assert reasons(plan, context()) == ["max_inventory_yes"]


def test_manual_orders_count_toward_the_caps() -> None:
    ctx = context(resting=[order(Side.BID, 3000, 95 * C, cid="manual")])
    assert reasons(Plan(places=(request(Side.BID, 4000, 10 * C),)), ctx) == ["max_inventory_yes"]


def test_global_exposure_counts_positions_and_adding_resting_orders() -> None:
    ctx = context(
        positions={TICKER: 60 * C},
        resting=[order(Side.ASK, 5000, 30 * C, ticker=OTHER)],
        global_config=GlobalConfig(max_total_exposure=100 * C),
    )
    assert reasons(Plan(places=(request(Side.BID, 4000, 11 * C, ticker=OTHER),)), ctx) == []
    assert reasons(Plan(places=(request(Side.ASK, 4000, 11 * C, ticker=OTHER),)), ctx) == [
        "max_total_exposure"
    ]
    assert reasons(Plan(places=(request(Side.ASK, 4000, 10 * C, ticker=OTHER),)), ctx) == []


def test_cash_covers_bid_price_and_ask_one_minus_price() -> None:
    bid = Plan(places=(request(Side.BID, 4000, 10 * C),))  # needs $4.00
    assert reasons(bid, context(cash=3_999_999)) == ["insufficient_cash"]
    assert reasons(bid, context(cash=4_000_000)) == []
    ask = Plan(places=(request(Side.ASK, 4000, 10 * C),))  # needs $6.00
    assert reasons(ask, context(cash=5_999_999)) == ["insufficient_cash"]
    assert reasons(ask, context(cash=6_000_000)) == []


def test_the_opposite_position_covers_collateral() -> None:
    ask = Plan(places=(request(Side.ASK, 4000, 10 * C),))
    assert reasons(ask, context(positions={TICKER: 10 * C}, cash=0)) == []
    covered_once = context(
        positions={TICKER: 10 * C}, cash=0, resting=[order(Side.ASK, 4500, 10 * C)]
    )
    assert reasons(ask, covered_once) == ["insufficient_cash"]


def test_cash_freed_by_cancels_and_used_by_earlier_places_is_counted() -> None:
    old = order(Side.BID, 4000, 10 * C)
    place = request(Side.BID, 4100, 10 * C)  # needs $4.10; $4.00 comes back from the cancel
    assert (
        reasons(Plan(cancels=(old,), places=(place,)), context(cash=100_000, resting=[old])) == []
    )
    two = Plan(places=(place, request(Side.BID, 4000, 10 * C, ticker=OTHER)))
    assert reasons(two, context(cash=5_000_000)) == ["insufficient_cash"]


def test_halt_on_the_manual_flag_with_its_reason() -> None:
    decision = evaluate_halt(
        RiskState(trading_halted=True, halt_reason="operator"), 0, GlobalConfig(), 0
    )
    assert (decision.halt, decision.reason) == (True, "operator")
    assert (
        evaluate_halt(RiskState(trading_halted=True), 0, GlobalConfig(), 0).reason == "manual_halt"
    )


def test_halt_on_realized_plus_unrealized_daily_loss() -> None:
    config = GlobalConfig(max_daily_loss=100_000_000)
    assert not evaluate_halt(RiskState(daily_pnl=-60_000_000), -40_000_000, config, 0).halt
    decision = evaluate_halt(RiskState(daily_pnl=-60_000_000), -40_000_001, config, 0)
    assert decision.halt and decision.reason.startswith("daily_loss")


def test_halt_on_too_many_consecutive_errors() -> None:
    config = GlobalConfig(max_consecutive_errors=3)
    assert not evaluate_halt(RiskState(), 0, config, 2).halt
    decision = evaluate_halt(RiskState(), 0, config, 3)
    assert decision.halt and decision.reason.startswith("consecutive_errors")
    assert evaluate_halt(RiskState(), 0, config, 0).reason == ""


def test_the_other_shards_exposure_counts_toward_the_account_cap() -> None:
    ctx = replace(context(positions={TICKER: 60 * C},
                          global_config=GlobalConfig(max_total_exposure=100 * C)),
                  elsewhere_exposure=30 * C)
    assert reasons(Plan(places=(request(Side.BID, 4000, 10 * C, ticker=OTHER),)), ctx) == []
    assert reasons(Plan(places=(request(Side.BID, 4000, 11 * C, ticker=OTHER),)), ctx) == [
        "max_total_exposure"
    ]
    resting = [order(Side.ASK, 5000, 30 * C, ticker=OTHER)]
    positions = {TICKER: PositionState(TICKER, net=60 * C)}
    assert worst_case_exposure(positions, resting) == 90 * C  # what a shard saves for the others


def test_the_other_shards_daily_loss_counts_toward_the_halt() -> None:
    config = GlobalConfig(max_daily_loss=100_000_000)
    risk = RiskState(daily_pnl=-60_000_000)
    assert not evaluate_halt(risk, 0, config, 0, elsewhere_pnl=-40_000_000).halt
    decision = evaluate_halt(risk, 0, config, 0, elsewhere_pnl=-40_000_001)
    assert decision.halt and "other shards" in decision.reason
# -- closes, the cash reserve and the fee bound of orders that may take -------------------------


def closing_context(net: int, **kwargs: object) -> RiskContext:
    ctx = context(positions={TICKER: net}, configs={}, **kwargs)  # type: ignore[arg-type]
    return replace(ctx, closing={TICKER: Side.ASK if net > 0 else Side.BID})


def test_a_close_needs_no_config_but_must_reduce_and_never_exceed_the_position() -> None:
    ctx = closing_context(5 * C, resting=[order(Side.ASK, 5200, 2 * C)])
    plan = Plan(places=(request(Side.ASK, 5100, 3 * C), request(Side.ASK, 5000, C),
                        request(Side.BID, 4000, C)))
    assert reasons(plan, ctx) == ["closing", "closing"]
    approved, _ = check_plan(plan, ctx)
    assert [r.count for r in approved.places] == [3 * C]  # 2 resting + 3 = the position


def test_a_close_still_stops_for_a_halt_and_for_trading_disabled() -> None:
    plan = Plan(places=(request(Side.ASK, 5100, C),))
    assert reasons(plan, closing_context(5 * C, halted=True)) == ["halted"]
    off = GlobalConfig(trading_enabled=False)
    assert reasons(plan, closing_context(5 * C, global_config=off)) == ["trading_disabled"]


def test_an_order_that_may_take_holds_its_largest_taker_fee() -> None:
    ioc = replace(request(Side.ASK, 4700, 10 * C), post_only=False, reduce_only=True)
    # covered by the long: no collateral, but up to 7% x 10 x 0.5 x 0.5 = $0.175 -> $0.18 in fees
    assert reasons(Plan(places=(ioc,)), closing_context(10 * C, cash=179_999)) == [
        "insufficient_cash"]
    assert reasons(Plan(places=(ioc,)), closing_context(10 * C, cash=180_000)) == []


def test_orders_that_need_cash_keep_the_reserve_free_and_closes_may_use_it() -> None:
    bid = request(Side.BID, 4000, 10 * C)  # $4.00
    ctx = replace(context(cash=10_000_000), cash_reserve=6_000_000)
    assert reasons(Plan(places=(bid,)), ctx) == []
    assert reasons(Plan(places=(bid,)), replace(ctx, cash_reserve=6_000_001)) == [
        "insufficient_cash"]
    reducing = request(Side.ASK, 5000, 10 * C)  # covered by the long: needs no cash
    long_ctx = replace(context(positions={TICKER: 10 * C}, cash=0), cash_reserve=6_000_000)
    assert reasons(Plan(places=(reducing,)), long_ctx) == []


def test_a_close_counts_only_the_position_unread_fills_cannot_have_closed() -> None:
    ctx = replace(closing_context(5 * C), maybe_closed={TICKER: 3 * C})
    assert reasons(Plan(places=(request(Side.ASK, 5100, 3 * C),)), ctx) == ["closing"]
    assert reasons(Plan(places=(request(Side.ASK, 5100, 2 * C),)), ctx) == []


def test_contracts_that_may_have_filled_unseen_count_as_position_in_every_cap() -> None:
    """A cancel found 5 contracts of a bid and 3 of an ask gone: until the fills read shows
    them, the position may be 5 longer (or 3 shorter) there, in the market's caps and in the
    account's total, whether or not the plan touches that market."""
    capped = replace(config(), max_inventory_yes=10 * C, max_inventory_no=10 * C)
    ctx = replace(context(global_config=GlobalConfig(max_total_exposure=12 * C),
                          configs={TICKER: capped, OTHER: replace(capped, market_id=OTHER)}),
                  maybe_filled={TICKER: (5 * C, 3 * C), OTHER: (6 * C, 0)})
    plan = Plan(places=(request(Side.BID, 4100, 6 * C), request(Side.ASK, 4900, 8 * C),
                        request(Side.BID, 4000, 2 * C)))
    assert reasons(plan, ctx) == ["max_inventory_yes", "max_inventory_no", "max_total_exposure"]
    assert reasons(plan, replace(ctx, maybe_filled={})) == []
