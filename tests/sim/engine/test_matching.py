from __future__ import annotations

import pytest

from dora.core.models import OrderStatus, TimeInForce
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import EngineError
from tests.sim.engine.helpers import ASK, BID, FOK, GTC, IOC, MAKER, TICKER, place


def test_resting_orders_form_a_yes_book_best_first(engine: Engine) -> None:
    place(engine, "alice", BID, 4000, 500)
    place(engine, "alice", BID, 4200, 300)
    place(engine, "bob", BID, 4200, 100)
    place(engine, "bob", ASK, 4600, 200)
    place(engine, "bob", ASK, 4500, 700)
    bids, asks = engine.book(TICKER)
    assert bids == [(4200, 400), (4000, 500)]
    assert asks == [(4500, 700), (4600, 200)]


def test_taker_fills_at_resting_price_best_level_first(engine: Engine) -> None:
    place(engine, "alice", ASK, 4500, 100)
    place(engine, "alice", ASK, 4400, 100)
    taker = place(engine, "bob", BID, 4700, 300)
    assert (taker.filled, taker.status) == (200, OrderStatus.RESTING)
    assert taker.remaining == 100
    fills = engine.fills("bob")
    assert [(f.price, f.count) for f in reversed(fills)] == [(4400, 100), (4500, 100)]
    assert engine.book(TICKER) == ([(4700, 100)], [])


def test_time_priority_within_a_level(engine: Engine, clock: FakeClock) -> None:
    first = place(engine, "alice", BID, 5000, 100)
    clock.advance_ms(5)
    second = place(engine, "bob", BID, 5000, 100)
    place(engine, "carol", ASK, 5000, 100, IOC)
    assert engine.order("alice", first.order_id).status is OrderStatus.EXECUTED
    assert engine.order("bob", second.order_id).status is OrderStatus.RESTING


def test_ask_is_buying_no_at_one_minus_price(engine: Engine) -> None:
    place(engine, "alice", BID, 3000, 100)
    place(engine, "bob", ASK, 3000, 100, IOC)
    (alice,) = engine.positions("alice")
    (bob,) = engine.positions("bob")
    assert (alice.position, alice.exposure) == (100, 300_000)
    assert (bob.position, bob.exposure) == (-100, 700_000)


def test_fills_for_both_parties_share_trade_id_with_distinct_fill_ids(engine: Engine) -> None:
    maker = place(engine, "alice", BID, 5500, 200)
    taker = place(engine, "bob", ASK, 5400, 200, IOC)
    (maker_fill,) = engine.fills("alice")
    (taker_fill,) = engine.fills("bob")
    assert maker_fill.trade_id == taker_fill.trade_id
    assert maker_fill.fill_id != taker_fill.fill_id
    assert (maker_fill.order_id, maker_fill.is_taker, maker_fill.side) == (
        maker.order_id, False, BID)
    assert (taker_fill.order_id, taker_fill.is_taker, taker_fill.side) == (
        taker.order_id, True, ASK)
    assert maker_fill.price == taker_fill.price == 5500
    assert taker_fill.no_price == 4500
    (trade,) = engine.trades(TICKER)
    assert (trade.trade_id, trade.price, trade.count, trade.taker_side) == (
        maker_fill.trade_id, 5500, 200, ASK)


def test_ioc_cancels_the_unfilled_rest(engine: Engine) -> None:
    place(engine, "alice", ASK, 5000, 100)
    taker = place(engine, "bob", BID, 5000, 300, IOC)
    assert (taker.status, taker.filled, taker.remaining) == (OrderStatus.CANCELED, 100, 0)
    assert engine.book(TICKER) == ([], [])


def test_fully_filled_order_is_executed(engine: Engine) -> None:
    place(engine, "alice", ASK, 5000, 300)
    taker = place(engine, "bob", BID, 5000, 300, IOC)
    assert (taker.status, taker.filled, taker.remaining) == (OrderStatus.EXECUTED, 300, 0)


@pytest.mark.parametrize(("available", "filled"), [(200, 0), (300, 300)])
def test_fok_is_all_or_nothing(engine: Engine, available: int, filled: int) -> None:
    place(engine, "alice", ASK, 5000, available)
    taker = place(engine, "bob", BID, 5000, 300, FOK)
    assert taker.filled == filled
    assert taker.status is (OrderStatus.EXECUTED if filled else OrderStatus.CANCELED)
    assert engine.book(TICKER)[1] == ([] if filled else [(5000, available)])


def test_gtc_with_expiration_expires_when_the_clock_passes(engine: Engine,
                                                           clock: FakeClock) -> None:
    expires_s = clock.now_ms() // 1000 + 60
    order = place(engine, "alice", BID, 4000, 100, expiration_s=expires_s)
    clock.advance_ms(59_000)
    engine.advance()
    assert engine.order("alice", order.order_id).status is OrderStatus.RESTING
    clock.advance_ms(1_000)
    engine.advance()
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED
    assert engine.book(TICKER) == ([], [])
    assert engine.counters()["expirations"] == 1


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_expiration_only_with_gtc(engine: Engine, clock: FakeClock, tif: TimeInForce) -> None:
    with pytest.raises(EngineError) as err:
        place(engine, "alice", BID, 4000, 100, tif, expiration_s=clock.now_ms() // 1000 + 60)
    assert (err.value.status, err.value.code) == (400, "invalid_parameters")


def test_post_only_that_would_take_is_returned_canceled(engine: Engine) -> None:
    place(engine, "alice", ASK, 5000, 100)
    order = place(engine, "bob", BID, 5000, 100, post_only=True)
    assert (order.status, order.filled, order.remaining) == (OrderStatus.CANCELED, 0, 0)
    assert engine.fills("bob") == []
    assert engine.book(TICKER) == ([], [(5000, 100)])


def test_post_only_that_does_not_cross_rests(engine: Engine) -> None:
    place(engine, "alice", ASK, 5000, 100)
    order = place(engine, "bob", BID, 4900, 100, post_only=True)
    assert order.status is OrderStatus.RESTING


def test_stp_taker_at_cross_cancels_incoming_keeping_earlier_fills(engine: Engine,
                                                                  clock: FakeClock) -> None:
    place(engine, "bob", ASK, 4800, 100)
    own = place(engine, "alice", ASK, 4900, 100)
    place(engine, "bob", ASK, 5000, 100)
    taker = place(engine, "alice", BID, 5000, 300)
    assert (taker.status, taker.filled, taker.remaining) == (OrderStatus.CANCELED, 100, 0)
    assert engine.order("alice", own.order_id).status is OrderStatus.RESTING
    assert engine.book(TICKER) == ([], [(4900, 100), (5000, 100)])


def test_stp_maker_cancels_own_resting_and_keeps_matching(engine: Engine) -> None:
    own = place(engine, "alice", ASK, 4900, 100)
    place(engine, "bob", ASK, 5000, 100)
    taker = place(engine, "alice", BID, 5000, 200, stp=MAKER)
    assert engine.order("alice", own.order_id).status is OrderStatus.CANCELED
    assert (taker.filled, taker.remaining, taker.status) == (100, 100, OrderStatus.RESTING)
    assert engine.book(TICKER) == ([(5000, 100)], [])


def test_reduce_only_requires_ioc(engine: Engine) -> None:
    with pytest.raises(EngineError) as err:
        place(engine, "alice", ASK, 5000, 100, GTC, reduce_only=True)
    assert (err.value.status, err.value.code) == (400, "invalid_parameters")


def test_reduce_only_is_capped_to_the_position(engine: Engine) -> None:
    place(engine, "bob", ASK, 5000, 200)
    place(engine, "alice", BID, 5000, 200, IOC)  # alice long 2
    place(engine, "bob", BID, 5000, 500)
    order = place(engine, "alice", ASK, 5000, 500, IOC, reduce_only=True)
    assert order.filled == 200
    assert engine.positions("alice")[0].position == 0


def test_reduce_only_with_nothing_to_reduce_is_canceled(engine: Engine) -> None:
    place(engine, "bob", BID, 5000, 500)
    order = place(engine, "alice", ASK, 5000, 500, IOC, reduce_only=True)
    assert (order.status, order.filled) == (OrderStatus.CANCELED, 0)
    assert engine.book(TICKER) == ([(5000, 500)], [])


def test_client_order_id_reuse_while_resting_is_refused(engine: Engine) -> None:
    place(engine, "alice", BID, 4000, 100, client_order_id="abc-1")
    with pytest.raises(EngineError) as err:
        place(engine, "alice", BID, 3900, 100, client_order_id="abc-1")
    assert (err.value.status, err.value.code) == (409, "order_already_exists")


def test_client_order_id_reuse_after_cancel_is_allowed(engine: Engine) -> None:
    first = place(engine, "alice", BID, 4000, 100, client_order_id="abc-1")
    engine.cancel_order("alice", first.order_id)
    second = place(engine, "alice", BID, 3900, 100, client_order_id="abc-1")
    assert second.status is OrderStatus.RESTING


def test_client_order_id_is_per_user(engine: Engine) -> None:
    place(engine, "alice", BID, 4000, 100, client_order_id="same")
    order = place(engine, "bob", BID, 4000, 100, client_order_id="same")
    assert order.status is OrderStatus.RESTING


def test_ids_are_unique(engine: Engine) -> None:
    orders = [place(engine, "alice", BID, 4000, 100) for _ in range(5)]
    assert len({o.order_id for o in orders}) == 5
