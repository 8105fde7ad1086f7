"""The promised-cash ledger: collateral, what each write promises or releases, and free cash under
read lag. Every amount must be the one that leaves the least free cash."""

from __future__ import annotations

from dora.core.ledger import (
    BalanceTime,
    CashLedger,
    CashView,
    CashWrite,
    MaybeClosed,
    Promise,
    WriteKind,
    after_writes,
    collateral,
    covering,
    resting_collateral,
)
from dora.core.models import Balance, PositionState, Side
from tests.core.builders import NOW, TICKER, C, order

LONG5 = {TICKER: PositionState(TICKER, net=5 * C, open_cost=2_500_000)}


def place(cid: str, side: Side, price: int, count: int, at: int = NOW, fee: int = 0) -> CashWrite:
    return CashWrite(WriteKind.PLACE, cid, TICKER, side, price, count, at, fee)


def cancel(oid: str, side: Side, price: int, released: int, at: int = NOW,
           kind: WriteKind = WriteKind.CANCEL) -> CashWrite:
    return CashWrite(kind, oid, TICKER, side, price, released, at)


def exactly(ms: int) -> BalanceTime:
    """A balance time to the millisecond."""
    return BalanceTime(ms, ms)


def amounts(ledger: CashLedger) -> dict[str, int]:
    return {p.key: p.amount for p in ledger.promises}


def test_collateral_holds_prices_and_the_position_covers_the_dearest_orders_first() -> None:
    bids, asks = [(4000, 5 * C), (4500, 5 * C)], [(6000, 2 * C), (5500, 3 * C)]
    assert collateral(0, bids, asks) == 4000 * 500 + 4500 * 500 + 4000 * 200 + 4500 * 300
    # a long of 3 covers the 55c ask (it holds 45c a contract, more than the 60c ask's 40c)
    assert collateral(3 * C, bids, asks) == 4000 * 500 + 4500 * 500 + 4000 * 200
    # a short of 7 covers the 45c bids, then 2 of the 40c ones
    assert collateral(-7 * C, bids, asks) == 4000 * 300 + 4000 * 200 + 4500 * 300
    assert (covering(5 * C, 2 * C), covering(-5 * C, 9 * C), covering(0, C)) == (3 * C, 0, 0)


def test_free_cash_subtracts_places_and_adds_releases_the_balance_does_not_show_yet() -> None:
    first = CashLedger().with_writes([place("dora-1", Side.BID, 4100, 10 * C, NOW + 2)], {}, [])
    resting = [order(Side.BID, 4100, 10 * C, oid="o1", cid="dora-1"),
               order(Side.BID, 3000, 10 * C, oid="old", cid="dora-0")]
    ledger = first.with_writes([cancel("o1", Side.BID, 4100, 4 * C, NOW + 3),
                                cancel("old", Side.BID, 3000, 10 * C, NOW + 4),
                                place("dora-2", Side.ASK, 5900, 5 * C, NOW + 5)], {}, resting)
    assert amounts(ledger) == {"place:dora-1": 4_100_000, "cancel:o1": -1_640_000,
                               "cancel:old": -3_000_000, "place:dora-2": 2_050_000}
    view = ledger.view(20_000_000, exactly(NOW))
    assert view == CashView(20_000_000, NOW, promised=6_150_000, released=4_640_000)
    assert view.free == 20_000_000 - 6_150_000 + 4_640_000
    # the release of an order whose place is pending lapses with that place
    kept = ledger.settle(exactly(NOW + 2)).promises
    assert {p.key for p in kept} == {"cancel:old", "place:dora-2"}


def test_a_cancel_of_an_older_order_frees_only_what_no_position_could_have_covered() -> None:
    resting = [order(Side.ASK, 6000, 5 * C, oid="a"), order(Side.BID, 4000, 2 * C, oid="b")]
    # the 2 bids could have filled unseen and made a long that covers 2 of the 5 asks
    ledger = CashLedger().with_writes([cancel("a", Side.ASK, 6000, 5 * C)], {}, resting)
    assert amounts(ledger) == {"cancel:a": -4000 * 3 * C}
    covered = CashLedger().with_writes([cancel("a", Side.ASK, 6000, 5 * C)], LONG5, resting)
    assert amounts(covered) == {}  # the long may cover all of it: nothing surely freed


def test_a_decrease_or_an_order_already_gone_frees_nothing() -> None:
    resting = [order(Side.BID, 4000, 10 * C, oid="o1"), order(Side.BID, 3000, C, oid="o2")]
    ledger = CashLedger().with_writes([
        CashWrite(WriteKind.DECREASE, "o1", TICKER, Side.BID, 4000, 6 * C, NOW),
        cancel("o2", Side.BID, 3000, 0, kind=WriteKind.GONE),
    ], {}, resting)
    assert ledger.promises == ()


def test_a_reducing_close_promises_only_its_fee_bound_unless_the_long_may_be_gone() -> None:
    ioc = place("dora-x", Side.ASK, 4700, 5 * C, fee=90_000)
    assert amounts(CashLedger().with_writes([ioc], LONG5, [])) == {"place:dora-x": 90_000}
    unsure = CashLedger(maybe_closed=(MaybeClosed("gone", TICKER, Side.ASK, 2 * C, NOW),))
    assert amounts(unsure.with_writes([ioc], LONG5, [])) == {
        "place:dora-x": 90_000 + 5300 * 2 * C}


def test_a_cancel_that_found_less_than_expected_records_what_may_have_filled() -> None:
    resting = [order(Side.ASK, 5200, 5 * C, oid="a1"), order(Side.BID, 4800, 5 * C, oid="b1")]
    writes = [cancel("a1", Side.ASK, 5200, 2 * C, NOW + 1),  # 3 of them filled first, maybe
              cancel("b1", Side.BID, 4800, 0, NOW + 2, kind=WriteKind.GONE)]
    ledger = CashLedger().with_writes(writes, LONG5, resting)
    assert ledger.maybe_closed == (MaybeClosed("a1", TICKER, Side.ASK, 3 * C, NOW + 1),
                                   MaybeClosed("b1", TICKER, Side.BID, 5 * C, NOW + 2))
    # against a long only the asks may have closed it; against a short, the bids
    assert ledger.maybe_closed_by_market(LONG5) == {TICKER: 3 * C}
    short = {TICKER: PositionState(TICKER, net=-C, open_cost=40_000)}
    assert ledger.maybe_closed_by_market(short) == {TICKER: 5 * C}
    assert ledger.maybe_closed_by_market({}) == {}
    assert ledger.settle_fills(NOW + 1).maybe_closed == ledger.maybe_closed[1:]
    assert after_writes(resting, writes) == []


def test_recording_the_same_write_twice_keeps_one_promise() -> None:
    first = Promise("place:a", 100, NOW)
    again = Promise("place:a", 150, NOW + 5)
    ledger = CashLedger().record([first]).record([again])
    assert ledger.promises == (again,)
    assert ledger.settle(exactly(NOW + 5)) == CashLedger()


def test_resting_collateral_adds_up_markets_each_with_its_own_position() -> None:
    orders = [order(Side.ASK, 5500, 5 * C), order(Side.BID, 4000, 2 * C),
              order(Side.BID, 3000, C, ticker="OTHER")]
    assert resting_collateral(LONG5, orders) == 4000 * 200 + 3000 * 100


def test_a_bid_that_may_have_filled_unseen_may_cover_the_ask_being_cancelled() -> None:
    earlier = CashLedger(maybe_closed=(MaybeClosed("b", TICKER, Side.BID, 4 * C, NOW),))
    resting = [order(Side.ASK, 5300, 5 * C, oid="a")]
    ledger = earlier.with_writes([cancel("a", Side.ASK, 5300, 5 * C, NOW + 1)], {}, resting)
    assert amounts(ledger) == {"cancel:a": -4700 * C}  # only 1 of the 5 surely uncovered


def test_a_balance_stamped_in_whole_seconds_is_never_credited_twice_with_a_cancel() -> None:
    """The balance says second NOW: it may show any write made during that second. A cancel made
    then may already be in it (no longer credited); a place counts until a later second."""
    resting = [order(Side.BID, 4000, 5 * C, oid="old", cid="dora-0")]
    ledger = CashLedger().with_writes([cancel("old", Side.BID, 4000, 5 * C, NOW + 500),
                                       place("dora-1", Side.BID, 3000, 5 * C, NOW + 600)],
                                      {}, resting)
    second = BalanceTime.of(Balance(9_000_000, 0, NOW, updated_ts_precision_ms=1000), NOW - 1)
    assert second == BalanceTime(NOW, NOW + 999)
    assert ledger.view(9_000_000, second) == CashView(9_000_000, NOW, promised=1_500_000)
    assert amounts(ledger.settle(second)) == {"place:dora-1": 1_500_000}
    assert ledger.settle(exactly(NOW + 600)) == CashLedger()
    # to the millisecond, and without a timestamp of its own (the orders' as-of time stands in)
    assert ledger.view(9_000_000, exactly(NOW + 499)).released == 2_000_000
    assert BalanceTime.of(Balance(9_000_000, 0), NOW - 1) == exactly(NOW - 1)
