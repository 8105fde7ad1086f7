from __future__ import annotations

import pytest

from dora.core.fees import FEE_ROUNDING_UNIT, maker_fee, taker_fee
from dora.core.models import OrderStatus, Side
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import EngineError
from tests.sim.engine.helpers import ASK, BID, CASH, DAY_MS, IOC, TICKER, place


def _insufficient(engine: Engine, user: str, *args: object, **kwargs: object) -> bool:
    try:
        place(engine, user, *args, **kwargs)  # type: ignore[arg-type]
    except EngineError as exc:
        assert (exc.status, exc.code) == (400, "insufficient_balance")
        return True
    return False


@pytest.mark.parametrize(("side", "price", "cost"), [(BID, 4000, 400_000), (ASK, 4000, 600_000)])
def test_resting_order_holds_its_outcome_price(engine: Engine, side: Side, price: int,
                                               cost: int) -> None:
    engine.open_account("dave", cost)
    place(engine, "dave", side, price, 100, post_only=True)
    assert engine.balance("dave").balance == 0
    assert _insufficient(engine, "dave", side, price, 100)


def test_an_order_that_may_take_must_also_cover_the_worst_taker_fee(engine: Engine) -> None:
    engine.open_account("dave", 400_000)
    assert _insufficient(engine, "dave", BID, 4000, 100)
    engine.open_account("dave", taker_fee(100, 4000))
    assert place(engine, "dave", BID, 4000, 100).status is OrderStatus.RESTING


def test_cancel_releases_collateral(engine: Engine) -> None:
    engine.open_account("dave", 400_000)
    order = place(engine, "dave", BID, 4000, 100, post_only=True)
    engine.cancel_order("dave", order.order_id)
    assert engine.balance("dave").balance == 400_000


def test_long_position_covers_asks_up_to_its_size(engine: Engine) -> None:
    engine.open_account("dave", 400_000 + taker_fee(100, 4000))
    place(engine, "bob", ASK, 4000, 100)
    place(engine, "dave", BID, 4000, 100, IOC)  # dave long 1 YES, cash 0
    assert engine.balance("dave").balance == 0
    assert place(engine, "dave", ASK, 6000, 100, post_only=True).status is OrderStatus.RESTING
    assert _insufficient(engine, "dave", ASK, 6000, 100, post_only=True)


def test_short_position_covers_bids(engine: Engine) -> None:
    engine.open_account("dave", 600_000 + taker_fee(100, 5000))
    place(engine, "bob", BID, 4000, 100)
    place(engine, "dave", ASK, 4000, 100, IOC)  # dave short 1 (bought NO at 0.60)
    assert place(engine, "dave", BID, 3000, 100, post_only=True).status is OrderStatus.RESTING
    assert _insufficient(engine, "dave", BID, 3000, 100, post_only=True)


def test_buying_the_opposite_side_nets_and_pays_out_pairs(engine: Engine) -> None:
    place(engine, "bob", ASK, 4000, 100)
    place(engine, "alice", BID, 4000, 100, IOC)  # long at 0.40, taker fee 0.02
    place(engine, "bob", BID, 5500, 100)
    place(engine, "alice", ASK, 5500, 100, IOC)  # sells at 0.55: pays 0.45 NO, pair pays $1
    (pos,) = engine.positions("alice")
    fees = taker_fee(100, 4000) + taker_fee(100, 5500)
    assert (pos.position, pos.exposure, pos.realized_pnl) == (0, 0, 150_000)
    assert pos.fees_paid == fees
    assert pos.total_traded == 400_000 + 450_000
    assert engine.balance("alice").balance == CASH + 150_000 - fees


def test_partial_close_removes_cost_pro_rata(engine: Engine) -> None:
    place(engine, "bob", ASK, 4000, 300)
    place(engine, "alice", BID, 4000, 300, IOC)
    place(engine, "bob", BID, 5000, 100)
    place(engine, "alice", ASK, 5000, 100, IOC)
    (pos,) = engine.positions("alice")
    assert (pos.position, pos.exposure, pos.realized_pnl) == (200, 800_000, 100_000)
    assert engine.balance("alice").portfolio_value == 800_000


def test_taker_fee_example_ten_contracts_at_half() -> None:
    assert FEE_ROUNDING_UNIT == 10_000
    assert taker_fee(1000, 5000) == 180_000  # 0.07 * 10 * 0.25 = $0.175 -> $0.18
    assert maker_fee(1000, 5000, maker_fees=True) == 50_000  # $0.04375 -> $0.05
    assert maker_fee(1000, 5000, maker_fees=False) == 0
    assert taker_fee(100, 100) == 10_000  # $0.000693 rounds up to a cent


@pytest.mark.parametrize("maker_fees", [False, True])
def test_fees_charged_on_fills_and_reported(engine: Engine, clock: FakeClock,
                                            maker_fees: bool) -> None:
    engine.add_market("FEES", close_ms=clock.now_ms() + DAY_MS, maker_fees=maker_fees)
    maker = place(engine, "alice", BID, 5000, 1000, ticker="FEES")
    taker = place(engine, "bob", ASK, 5000, 1000, IOC, ticker="FEES")
    expected_maker = 50_000 if maker_fees else 0
    assert (taker.taker_fees, taker.taker_fill_cost) == (180_000, 5_000_000)
    maker_now = engine.order("alice", maker.order_id)
    assert (maker_now.maker_fees, maker_now.maker_fill_cost) == (expected_maker, 5_000_000)
    assert engine.fills("bob")[0].fee == 180_000
    assert engine.fills("alice")[0].fee == expected_maker
    assert engine.balance("bob").balance == CASH - 5_000_000 - 180_000
    assert engine.balance("alice").balance == CASH - 5_000_000 - expected_maker


@pytest.mark.parametrize(("result", "alice_gets", "bob_gets"), [
    ("yes", 2_000_000, 0), ("no", 0, 2_000_000)])
def test_settlement_pays_winners_and_closes_positions(engine: Engine, result: str,
                                                      alice_gets: int, bob_gets: int) -> None:
    place(engine, "bob", ASK, 4000, 200)  # bob short 2 at NO 0.60 (maker, no fee)
    place(engine, "alice", BID, 4000, 200, IOC)  # alice long 2 at 0.40
    before = {u: engine.balance(u).balance for u in ("alice", "bob")}
    engine.settle_market(TICKER, result)
    assert engine.balance("alice").balance - before["alice"] == alice_gets
    assert engine.balance("bob").balance - before["bob"] == bob_gets
    assert engine.positions("alice") == engine.positions("bob") == []
    (record,) = engine.settlements("alice")
    assert (record.result, record.yes_count, record.yes_cost, record.revenue) == (
        result, 200, 800_000, alice_gets)
    (bob_record,) = engine.settlements("bob")
    assert (bob_record.no_count, bob_record.no_cost) == (200, 1_200_000)


def test_settlement_releases_resting_collateral(engine: Engine) -> None:
    place(engine, "alice", BID, 4000, 100)
    engine.settle_market(TICKER, "no")
    assert engine.balance("alice").balance == CASH


def test_open_account_again_deposits(engine: Engine) -> None:
    engine.open_account("alice", 5)
    assert engine.balance("alice").balance == CASH + 5
    assert engine.balance("nobody").balance == 0
