"""The promised-cash ledger: collateral, promises of writes, and free cash under read lag."""

from __future__ import annotations

from dora.core.ledger import (
    CashLedger,
    CashView,
    CashWrite,
    Promise,
    WriteKind,
    collateral,
    promises_for,
    resting_collateral,
)
from dora.core.models import PositionState, Side
from tests.core.builders import NOW, TICKER, C, order


def place(cid: str, side: Side, price: int, count: int, at: int = NOW, fee: int = 0) -> CashWrite:
    return CashWrite(WriteKind.PLACE, cid, TICKER, side, price, count, at, fee)


def test_collateral_holds_prices_and_the_position_covers_the_dearest_orders_first() -> None:
    bids, asks = [(4000, 5 * C), (4500, 5 * C)], [(6000, 2 * C), (5500, 3 * C)]
    assert collateral(0, bids, asks) == 4000 * 500 + 4500 * 500 + 4000 * 200 + 4500 * 300
    # a long of 3 covers the 55c ask (it holds 45c a contract, more than the 60c ask's 40c)
    assert collateral(3 * C, bids, asks) == 4000 * 500 + 4500 * 500 + 4000 * 200
    # a short of 7 covers the 45c bids, then 2 of the 40c ones
    assert collateral(-7 * C, bids, asks) == 4000 * 300 + 4000 * 200 + 4500 * 300


def test_free_cash_subtracts_places_and_adds_cancels_the_balance_does_not_show_yet() -> None:
    resting = [order(Side.BID, 4000, 10 * C, oid="old")]
    writes = [
        CashWrite(WriteKind.CANCEL, "old", TICKER, Side.BID, 4000, 10 * C, NOW + 1),
        place("dora-1", Side.BID, 4100, 10 * C, NOW + 2),
        place("dora-2", Side.ASK, 5900, 5 * C, NOW + 3),
    ]
    ledger = CashLedger().record(promises_for(writes, {}, resting))
    assert [p.amount for p in ledger.promises] == [-4_000_000, 4_100_000, 2_050_000]
    view = ledger.view(balance=20_000_000, balance_as_of_ms=NOW)
    assert view == CashView(20_000_000, NOW, promised=6_150_000, released=4_000_000)
    assert view.free == 20_000_000 - 6_150_000 + 4_000_000
    shows_the_cancel = ledger.view(balance=24_000_000, balance_as_of_ms=NOW + 1)
    assert shows_the_cancel.free == 24_000_000 - 6_150_000
    assert ledger.settle(NOW + 2).promises == (Promise("place:dora-2", 2_050_000, NOW + 3),)


def test_a_cancel_releases_only_what_the_exchange_says_it_cancelled() -> None:
    resting = [order(Side.BID, 4000, 10 * C, oid="o1")]
    partly_filled = CashWrite(WriteKind.CANCEL, "o1", TICKER, Side.BID, 4000, 4 * C, NOW)
    assert [p.amount for p in promises_for([partly_filled], {}, resting)] == [-1_600_000]
    unknown = CashWrite(WriteKind.CANCEL, "gone", TICKER, Side.BID, 4000, 4 * C, NOW)
    assert [p.amount for p in promises_for([unknown], {}, resting)] == [0]


def test_a_reducing_order_promises_only_its_fee_bound() -> None:
    long = {TICKER: PositionState(TICKER, net=5 * C, open_cost=2_500_000)}
    ioc = place("dora-x", Side.ASK, 4700, 5 * C, fee=90_000)
    assert [p.amount for p in promises_for([ioc], long, [])] == [90_000]


def test_recording_the_same_write_twice_keeps_one_promise() -> None:
    first = Promise("place:a", 100, NOW)
    again = Promise("place:a", 150, NOW + 5)
    ledger = CashLedger().record([first]).record([again])
    assert ledger.promises == (again,)
    assert ledger.settle(NOW + 5) == CashLedger()


def test_resting_collateral_adds_up_markets_each_with_its_own_position() -> None:
    long = {TICKER: PositionState(TICKER, net=5 * C, open_cost=2_500_000)}
    orders = [order(Side.ASK, 5500, 5 * C), order(Side.BID, 4000, 2 * C),
              order(Side.BID, 3000, C, ticker="OTHER")]
    assert resting_collateral(long, orders) == 4000 * 200 + 3000 * 100
