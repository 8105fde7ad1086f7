"""The fast diff and risk checks decide exactly as the straightforward versions did
(tests/core/reference_core.py), on random worlds: same places in the same order, same
decreases, cancels and kept orders, same approvals and the same rejection reasons."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from dora.core.diff import Decrease, Plan, diff_index, diff_orders
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import OrderRequest, OrderStatus, PositionState, RestingOrder, Side
from dora.core.resting_index import RestingIndex
from dora.core.risk import RiskContext, check_plan
from dora.core.strategies.base import TargetQuote
from tests.core.builders import C, config
from tests.core.reference_core import reference_check_plan, reference_diff_orders

PREFIX = "dora-"
TICKERS = ("KXA-1", "KXB-2", "KXC-3", "KXD-4")
PRICES = (100, 2500, 4000, 4100, 5000, 5900, 9900)


@st.composite
def resting_orders(draw: st.DrawFn) -> list[RestingOrder]:
    count = draw(st.integers(min_value=0, max_value=14))
    return [
        RestingOrder(
            f"o{i}",
            draw(st.sampled_from((f"{PREFIX}s-{i}", f"{PREFIX}t-{i}", f"manual-{i}"))),
            draw(st.sampled_from(TICKERS)),
            draw(st.sampled_from(list(Side))),
            draw(st.sampled_from(PRICES)),
            draw(st.sampled_from((0, 50, C, 3 * C, 7 * C, 20 * C))),
            status=draw(st.sampled_from((OrderStatus.RESTING,) * 4 + (OrderStatus.CANCELED,))),
            created_ms=draw(st.integers(min_value=0, max_value=3)),
        )
        for i in range(count)
    ]


@st.composite
def targets_by_market(draw: st.DrawFn) -> dict[str, tuple[TargetQuote, ...]]:
    out: dict[str, tuple[TargetQuote, ...]] = {}
    for ticker in draw(st.sets(st.sampled_from(TICKERS))):
        quotes = [
            TargetQuote(ticker, draw(st.sampled_from(list(Side))), draw(st.sampled_from(PRICES)),
                        draw(st.sampled_from((C, 2 * C, 3 * C, 7 * C, 150))), level)
            for level in range(draw(st.integers(min_value=0, max_value=5)))
        ]
        if draw(st.booleans()) and draw(st.booleans()):
            quotes.append(TargetQuote(ticker, Side.ASK, draw(st.sampled_from(PRICES)), 3 * C, 0,
                                      close="stop_loss", immediate=draw(st.booleans())))
        out[ticker] = tuple(quotes)
    return out


def _ids(orders: tuple[RestingOrder, ...]) -> list[str]:
    return sorted(o.order_id for o in orders)


def _decreases(decreases: tuple[Decrease, ...]) -> list[tuple[str, int]]:
    return sorted((d.order.order_id, d.reduce_to) for d in decreases)


@settings(max_examples=400, deadline=None)
@given(resting_orders(), targets_by_market(), st.sets(st.sampled_from(TICKERS)),
       st.sampled_from((1, 50, 100, 500)))
def test_the_diff_plans_as_the_reference_did(
    resting: list[RestingOrder], targets: dict[str, tuple[TargetQuote, ...]], managed: set[str],
    min_size: int,
) -> None:
    kwargs = {"managed": managed, "id_prefix": PREFIX, "id_salt": "r1-5",
              "min_order_size": min_size}
    fast = diff_orders(resting, targets, **kwargs)  # type: ignore[arg-type]
    reference = reference_diff_orders(resting, targets, **kwargs)  # type: ignore[arg-type]
    assert fast.places == reference.places
    assert _decreases(fast.decreases) == _decreases(reference.decreases)
    assert _ids(fast.cancels) == _ids(reference.cancels)
    assert _ids(fast.kept) == _ids(reference.kept)
    # over last cycle's index the answer is the same (unchanged markets take its figures over)
    previous = RestingIndex(list(reversed(resting)), PREFIX)
    again = diff_index(RestingIndex(resting, PREFIX, previous=previous), targets,
                       managed=managed, id_salt="r1-5", min_order_size=min_size)
    assert again.places == fast.places and _ids(again.kept) == _ids(fast.kept)


@st.composite
def risk_worlds(draw: st.DrawFn) -> tuple[Plan, RiskContext]:
    resting = draw(resting_orders())
    live = [o for o in resting if o.status is OrderStatus.RESTING and o.remaining > 0]
    cancels = tuple(o for o in live if draw(st.booleans()) and draw(st.booleans()))
    decreases = tuple(Decrease(o, o.remaining // 2) for o in live
                      if o not in cancels and o.remaining >= 2 and draw(st.booleans()))
    places = tuple(
        OrderRequest(draw(st.sampled_from((*TICKERS, "KXNEW-9"))),
                     draw(st.sampled_from(list(Side))), draw(st.sampled_from(PRICES)),
                     draw(st.sampled_from((C, 5 * C, 30 * C))), f"{PREFIX}p{i}",
                     post_only=draw(st.booleans()))
        for i in range(draw(st.integers(min_value=0, max_value=12)))
    )
    caps = st.sampled_from((10 * C, 40 * C, 200 * C))
    mostly = st.sampled_from((True,) * 5 + (False,))
    configs: dict[str, MarketConfig] = {
        t: replace(config(), market_id=t, max_inventory_yes=draw(caps),
                   max_inventory_no=draw(caps), enabled=draw(mostly))
        for t in TICKERS if draw(mostly)
    }
    positions = {t: PositionState(t, net=n, open_cost=abs(n) * 4000)
                 for t in TICKERS if (n := draw(st.sampled_from((0, 0, 5 * C, -5 * C, 30 * C))))}
    ctx = RiskContext(
        global_config=GlobalConfig(
            max_total_exposure=draw(st.sampled_from((50 * C, 120 * C, 10**6)))),
        configs=configs, positions=positions, resting=resting,
        available_cash=draw(st.sampled_from((0, 5_000_000, 30_000_000, 10**12))),
        halted=draw(st.sampled_from((False,) * 9 + (True,))),
        closing={t: draw(st.sampled_from(list(Side))) for t in TICKERS
                 if draw(st.sampled_from((False,) * 4 + (True,)))},
        cash_reserve=draw(st.sampled_from((0, 0, 2_000_000))),
        maybe_closed={t: draw(st.sampled_from((C, 3 * C))) for t in TICKERS
                      if draw(st.sampled_from((False,) * 3 + (True,)))},
    )
    return Plan(cancels=cancels, decreases=decreases, places=places), ctx


@settings(max_examples=400, deadline=None)
@given(risk_worlds())
def test_the_risk_checks_decide_as_the_reference_did(world: tuple[Plan, RiskContext]) -> None:
    plan, ctx = world
    fast, fast_rejections = check_plan(plan, ctx)
    reference, reference_rejections = reference_check_plan(plan, ctx)
    assert fast.places == reference.places
    assert fast_rejections == reference_rejections
    indexed = replace(ctx, index=RestingIndex(ctx.resting, PREFIX))
    assert check_plan(plan, indexed) == (fast, fast_rejections)
