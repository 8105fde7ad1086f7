from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dora.core.diff import Decrease, Plan, client_order_id, diff_orders
from dora.core.models import OrderStatus, RestingOrder, Side
from dora.core.strategies.base import TargetQuote
from tests.core.builders import TICKER, C, order

PREFIX = "dora-"
SALT = "abc123-7"


def diff(
    resting: list[RestingOrder],
    targets: list[TargetQuote],
    *,
    managed: set[str] | None = None,
    min_order_size: int = 100,
) -> Plan:
    by_market: dict[str, list[TargetQuote]] = {}
    for t in targets:
        by_market.setdefault(t.ticker, []).append(t)
    return diff_orders(
        resting,
        by_market,
        managed={TICKER} if managed is None else managed,
        id_prefix=PREFIX,
        id_salt=SALT,
        min_order_size=min_order_size,
    )


def target(side: Side, price: int, size: int, level: int = 0, ticker: str = TICKER) -> TargetQuote:
    return TargetQuote(ticker, side, price, size, level)


def test_an_order_matching_its_target_is_kept_untouched() -> None:
    resting = [order(Side.BID, 4100, 10 * C), order(Side.ASK, 4900, 10 * C)]
    plan = diff(resting, [target(Side.BID, 4100, 10 * C), target(Side.ASK, 4900, 10 * C)])
    assert plan.empty
    assert set(plan.kept) == set(resting)


def test_a_larger_order_is_decreased_to_keep_its_queue_priority() -> None:
    big = order(Side.BID, 4100, 15 * C)
    plan = diff([big], [target(Side.BID, 4100, 10 * C)])
    assert plan.decreases == (Decrease(big, 10 * C),)
    assert (plan.cancels, plan.places, plan.kept) == ((), (), ())


def test_a_partially_filled_order_is_kept_and_topped_up() -> None:
    partial = replace(order(Side.BID, 4100, 6 * C), filled=4 * C)
    plan = diff([partial], [target(Side.BID, 4100, 10 * C)])
    assert plan.kept == (partial,)
    assert plan.cancels == () and plan.decreases == ()
    assert [(p.side, p.price, p.count) for p in plan.places] == [(Side.BID, 4100, 4 * C)]


def test_a_shortfall_below_the_minimum_size_replaces_the_order() -> None:
    partial = order(Side.BID, 4100, 950)  # 9.5 of 10 contracts left
    plan = diff([partial], [target(Side.BID, 4100, 10 * C)])
    assert plan.cancels == (partial,)
    assert [(p.price, p.count) for p in plan.places] == [(4100, 10 * C)]
    assert plan.kept == ()
    plan = diff([partial], [target(Side.BID, 4100, 10 * C)], min_order_size=50)
    assert plan.kept == (partial,) and plan.places[0].count == 50


def test_several_orders_at_one_price_keep_the_oldest_first() -> None:
    old = order(Side.ASK, 4900, 6 * C, oid="old", created_ms=1)
    mid = order(Side.ASK, 4900, 6 * C, oid="mid", created_ms=2)
    new = order(Side.ASK, 4900, 6 * C, oid="new", created_ms=3)
    plan = diff([new, old, mid], [target(Side.ASK, 4900, 10 * C)])
    assert plan.kept == (old,)
    assert plan.decreases == (Decrease(mid, 4 * C),)
    assert plan.cancels == (new,)
    assert plan.places == ()


def test_orders_at_other_prices_are_cancelled_and_targets_placed() -> None:
    stale = order(Side.BID, 4000, 10 * C)
    plan = diff([stale], [target(Side.BID, 4100, 10 * C, level=0)])
    assert plan.cancels == (stale,)
    assert [(p.side, p.price, p.count, p.client_order_id) for p in plan.places] == [
        (Side.BID, 4100, 10 * C, client_order_id(PREFIX, SALT, target(Side.BID, 4100, 10 * C)))
    ]
    assert plan.places[0].post_only


def test_side_matters_for_matching() -> None:
    bid = order(Side.BID, 4500, 10 * C)
    plan = diff([bid], [target(Side.ASK, 4500, 10 * C)])
    assert plan.cancels == (bid,) and plan.places[0].side is Side.ASK


def test_only_dora_orders_are_ever_cancelled() -> None:
    manual = order(Side.BID, 4000, 10 * C, cid="operator-1")
    no_cid = order(Side.ASK, 6000, 10 * C, cid="")
    ours = order(Side.BID, 3000, 10 * C)
    plan = diff([manual, no_cid, ours], [])
    assert plan.cancels == (ours,)
    plan = diff([manual, no_cid, ours], [], managed=set())
    assert plan.cancels == (ours,)


def test_foreign_orders_never_count_toward_a_target() -> None:
    manual = order(Side.BID, 4100, 10 * C, cid="operator-1")
    plan = diff([manual], [target(Side.BID, 4100, 10 * C)])
    assert [(p.price, p.count) for p in plan.places] == [(4100, 10 * C)]
    assert plan.cancels == () and plan.kept == ()


def test_unmanaged_markets_lose_only_dora_orders_and_get_no_places() -> None:
    gone = order(Side.BID, 4100, 10 * C, ticker="KXOLD")
    manual = order(Side.BID, 4200, 10 * C, ticker="KXOLD", cid="manual")
    plan = diff([gone, manual], [target(Side.BID, 4100, 10 * C, ticker="KXOLD")], managed=set())
    assert plan.cancels == (gone,)
    assert plan.places == () and plan.kept == ()


def test_orders_no_longer_resting_are_ignored() -> None:
    done = replace(order(Side.BID, 4100, 0), status=OrderStatus.EXECUTED)
    plan = diff([done], [target(Side.BID, 4100, 10 * C)])
    assert plan.cancels == () and plan.places[0].count == 10 * C


def test_an_empty_id_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="id_prefix"):
        diff_orders([], {}, managed=set(), id_prefix="", id_salt=SALT)


def test_client_order_id_is_deterministic_short_and_in_the_kalshi_alphabet() -> None:
    long_ticker = "KXVERYLONGSERIESNAME-26JAN01-ABCDEFGHIJKLMNOPQRSTUVWXYZ-T123.45"
    t = target(Side.ASK, 4900, C, level=2, ticker=long_ticker)
    cid = client_order_id(PREFIX, SALT, t)
    assert cid == client_order_id(PREFIX, SALT, t._replace(price=5000, size=3 * C))
    assert cid.startswith(PREFIX)
    assert len(cid) <= 64 and re.fullmatch(r"[A-Za-z0-9_\-:+=/]+", cid)


def test_client_order_ids_differ_by_salt_ticker_side_and_level() -> None:
    base = target(Side.BID, 4100, C)
    ids = {
        client_order_id(PREFIX, SALT, base),
        client_order_id(PREFIX, "abc123-8", base),
        client_order_id(PREFIX, SALT, base._replace(ticker="KXOTHER")),
        client_order_id(PREFIX, SALT, base._replace(side=Side.ASK)),
        client_order_id(PREFIX, SALT, base._replace(level=1)),
    }
    assert len(ids) == 5


def test_client_order_id_refuses_bad_prefixes() -> None:
    with pytest.raises(ValueError):
        client_order_id("dora id!", SALT, target(Side.BID, 4100, C))
    with pytest.raises(ValueError):
        client_order_id("d" * 60, SALT, target(Side.BID, 4100, C))


# -- property: applying the plan yields exactly the targets -------------------------------------

TICKERS = ("KXA", "KXB", "KXC")
PRICES = (3900, 4000, 4100, 4900, 5000)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[RestingOrder], list[TargetQuote], set[str], int]:
    n = draw(st.integers(min_value=0, max_value=14))
    resting = [
        RestingOrder(
            f"o{i}",
            draw(st.sampled_from(["dora-x", "dora-y", "manual", ""])),
            draw(st.sampled_from(TICKERS)),
            draw(st.sampled_from(list(Side))),
            draw(st.sampled_from(PRICES)),
            draw(st.integers(min_value=1, max_value=2_000)),
            created_ms=draw(st.integers(min_value=0, max_value=5)),
        )
        for i in range(n)
    ]
    keys = draw(
        st.sets(
            st.tuples(
                st.sampled_from(TICKERS), st.sampled_from(list(Side)), st.sampled_from(PRICES)
            ),
            max_size=10,
        )
    )
    targets = [
        TargetQuote(t, s, p, draw(st.integers(min_value=1, max_value=2_000)), level)
        for level, (t, s, p) in enumerate(sorted(keys))
    ]
    managed = draw(st.sets(st.sampled_from(TICKERS)))
    return resting, targets, managed, draw(st.sampled_from([1, 50, 100, 500]))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_applying_the_plan_yields_exactly_the_targets(
    scenario: tuple[list[RestingOrder], list[TargetQuote], set[str], int],
) -> None:
    resting, targets, managed, min_size = scenario
    plan = diff(resting, targets, managed=managed, min_order_size=min_size)
    ours = [o for o in resting if o.client_order_id.startswith(PREFIX)]
    foreign = [o for o in resting if not o.client_order_id.startswith(PREFIX)]
    # every dora order is handled exactly once; foreign ones never
    handled = (
        [o.order_id for o in plan.kept]
        + [o.order_id for o in plan.cancels]
        + [d.order.order_id for d in plan.decreases]
    )
    assert sorted(handled) == sorted(o.order_id for o in ours)
    assert not {o.order_id for o in foreign} & set(handled)
    after: Counter[tuple[str, Side, int]] = Counter()
    for o in plan.kept:
        after[(o.ticker, o.side, o.price)] += o.remaining
    for d in plan.decreases:
        assert 0 < d.reduce_to < d.order.remaining
        after[(d.order.ticker, d.order.side, d.order.price)] += d.reduce_to
    for p in plan.places:
        assert p.client_order_id.startswith(PREFIX)
        after[(p.ticker, p.side, p.price)] += p.count
    wanted = Counter({(t.ticker, t.side, t.price): t.size for t in targets if t.ticker in managed})
    assert after == wanted
    assert len({p.client_order_id for p in plan.places}) == len(plan.places)


def test_an_immediate_close_is_always_a_fresh_reduce_only_ioc_and_never_matched() -> None:
    resting = [order(Side.ASK, 4700, 5 * C), order(Side.BID, 4000, 5 * C)]
    ioc = TargetQuote(TICKER, Side.ASK, 4700, 5 * C, 0, close="stop_loss", immediate=True)
    plan = diff(resting, [ioc])
    assert set(plan.cancels) == set(resting)  # the resting ask at its price is not "kept"
    (request,) = plan.places
    assert (request.time_in_force.value, request.post_only, request.reduce_only) == (
        "immediate_or_cancel", False, True)
    assert request.client_order_id.endswith("-xa")


def test_close_orders_carry_their_own_tag_in_the_client_order_id() -> None:
    passive = TargetQuote(TICKER, Side.BID, 4000, C, 0, close="stuck")
    assert client_order_id(PREFIX, SALT, passive).endswith("-cb")
    assert client_order_id(PREFIX, SALT, target(Side.BID, 4000, C)).endswith("-b0")
    with pytest.raises(ValueError, match="only a close"):
        TargetQuote(TICKER, Side.BID, 4000, C, 0, immediate=True)
