"""Amend moving an order's expiry: an expiry-only change keeps the queue place, and the order
expires at its new time, not the old one."""

from __future__ import annotations

import pytest

from dora.core.models import OrderStatus
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import EngineError
from tests.sim.engine.helpers import BID, GTC, TICKER, place


def _ahead(engine: Engine, user: str, order_id: str) -> int:
    return {o: ahead for o, _, ahead in engine.queue_positions(user, [TICKER])}[order_id]


def _at(engine: Engine, clock: FakeClock, offset_ms: int, base_ms: int) -> None:
    clock.advance_ms(base_ms + offset_ms - clock.now_ms())
    engine.advance()


def test_expiry_only_amend_keeps_the_queue_place_and_moves_the_expiry(
        engine: Engine, clock: FakeClock) -> None:
    start = clock.now_ms()
    first = place(engine, "alice", BID, 4000, 300, expiration_s=start // 1000 + 60)
    place(engine, "bob", BID, 4000, 100)  # joins behind alice
    snap = engine.amend_order("alice", first.order_id, ticker=TICKER, side=BID, price=4000,
                              count=300, expiration_s=start // 1000 + 120)
    assert (snap.expiration_s, snap.remaining, snap.price) == (start // 1000 + 120, 300, 4000)
    assert _ahead(engine, "alice", first.order_id) == 0
    _at(engine, clock, 60_000, start)  # the old expiry passes: nothing happens
    assert engine.order("alice", first.order_id).status is OrderStatus.RESTING
    assert _ahead(engine, "alice", first.order_id) == 0
    _at(engine, clock, 120_000, start)
    assert engine.order("alice", first.order_id).status is OrderStatus.CANCELED
    assert engine.counters()["expirations"] == 1


def test_amend_to_an_earlier_expiry_expires_then(engine: Engine, clock: FakeClock) -> None:
    start = clock.now_ms()
    order = place(engine, "alice", BID, 4000, 300, expiration_s=start // 1000 + 120)
    engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4000, count=300,
                       expiration_s=start // 1000 + 30)
    _at(engine, clock, 30_000, start)
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED
    _at(engine, clock, 120_000, start)  # the old event finds nothing left to do
    assert engine.counters()["expirations"] == 1


def test_a_price_change_with_a_new_expiry_goes_to_the_back_and_expires_then(
        engine: Engine, clock: FakeClock) -> None:
    start = clock.now_ms()
    order = place(engine, "alice", BID, 4000, 300, expiration_s=start // 1000 + 60)
    place(engine, "bob", BID, 4100, 100)
    engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4100, count=300,
                       expiration_s=start // 1000 + 90)
    assert _ahead(engine, "alice", order.order_id) == 100
    _at(engine, clock, 60_000, start)
    assert engine.order("alice", order.order_id).status is OrderStatus.RESTING
    _at(engine, clock, 90_000, start)
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED


def test_an_amend_without_expiry_keeps_the_old_one(engine: Engine, clock: FakeClock) -> None:
    start = clock.now_ms()
    order = place(engine, "alice", BID, 4000, 300, expiration_s=start // 1000 + 60)
    snap = engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4000,
                              count=200)
    assert snap.expiration_s == start // 1000 + 60
    _at(engine, clock, 60_000, start)
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED


def test_a_lagged_read_shows_the_expiry_as_it_was(engine: Engine, clock: FakeClock) -> None:
    start = clock.now_ms()
    order = place(engine, "alice", BID, 4000, 300, expiration_s=start // 1000 + 60)
    clock.advance_ms(1_000)
    engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4000, count=300,
                       expiration_s=start // 1000 + 120)
    assert engine.order("alice", order.order_id, as_of_ms=start + 500).expiration_s == \
        start // 1000 + 60
    assert engine.order("alice", order.order_id).expiration_s == start // 1000 + 120


@pytest.mark.parametrize("offset_s", [0, -5])
def test_an_expiry_in_the_past_is_refused_and_changes_nothing(
        engine: Engine, clock: FakeClock, offset_s: int) -> None:
    start = clock.now_ms()
    order = place(engine, "alice", BID, 4000, 300, GTC, expiration_s=start // 1000 + 60)
    with pytest.raises(EngineError) as exc:
        engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4000,
                           count=200, expiration_s=start // 1000 + offset_s)
    assert (exc.value.status, exc.value.code) == (400, "invalid_parameters")
    snap = engine.order("alice", order.order_id)
    assert (snap.remaining, snap.expiration_s) == (300, start // 1000 + 60)
