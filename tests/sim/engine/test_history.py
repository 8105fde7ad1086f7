from __future__ import annotations

from dora.core.models import OrderStatus
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from tests.sim.engine.helpers import ASK, BID, CASH, DAY_MS, IOC, TICKER, place


def test_as_of_reads_show_the_past_exactly(engine: Engine, clock: FakeClock) -> None:
    t0 = clock.now_ms()
    order = place(engine, "alice", BID, 4000, 300, post_only=True)
    clock.advance_ms(1000)
    t1 = clock.now_ms()
    place(engine, "bob", ASK, 4000, 100, IOC)
    clock.advance_ms(1000)
    engine.cancel_order("alice", order.order_id)

    at0 = engine.order("alice", order.order_id, as_of_ms=t0)
    assert (at0.status, at0.remaining, at0.filled) == (OrderStatus.RESTING, 300, 0)
    at1 = engine.order("alice", order.order_id, as_of_ms=t1 + 500)
    assert (at1.status, at1.remaining, at1.filled) == (OrderStatus.RESTING, 200, 100)
    now = engine.order("alice", order.order_id)
    assert (now.status, now.remaining) == (OrderStatus.CANCELED, 0)

    assert [o.order_id for o in engine.orders("alice", as_of_ms=t1,
                                              status=OrderStatus.RESTING)] == [order.order_id]
    assert engine.orders("alice", status=OrderStatus.RESTING) == []
    assert engine.fills("alice", as_of_ms=t1 - 1) == []
    assert len(engine.fills("alice", as_of_ms=t1)) == 1
    assert engine.positions("alice", as_of_ms=t0) == []
    assert engine.positions("alice", as_of_ms=t1)[0].position == 100
    assert engine.balance("alice", as_of_ms=t0).balance == CASH - 1_200_000
    assert engine.balance("alice", as_of_ms=t1).balance == CASH - 400_000 - 800_000
    assert engine.balance("alice").balance == CASH - 400_000


def test_order_does_not_exist_before_it_was_created(engine: Engine, clock: FakeClock) -> None:
    before = clock.now_ms()
    clock.advance_ms(10)
    place(engine, "alice", BID, 4000, 300)
    assert engine.orders("alice", as_of_ms=before) == []


def test_positions_show_settled_market_only_before_settlement(engine: Engine,
                                                              clock: FakeClock) -> None:
    place(engine, "bob", ASK, 4000, 100)
    place(engine, "alice", BID, 4000, 100, IOC)
    clock.advance_ms(1000)
    traded_at = clock.now_ms() - 1
    engine.settle_market(TICKER, "yes")
    assert engine.positions("alice") == []
    assert engine.positions("alice", as_of_ms=traded_at)[0].position == 100


def test_history_is_trimmed_past_the_retention_bound(clock: FakeClock) -> None:
    engine = Engine(clock, seed=1, history_ms=60_000, tape_retention_ms=120_000)
    engine.configure_flow(None, enabled=False)
    engine.add_market(TICKER, close_ms=clock.now_ms() + DAY_MS)
    engine.open_account("alice", CASH)
    engine.open_account("bob", CASH)
    gone = place(engine, "alice", BID, 4000, 100)
    engine.cancel_order("alice", gone.order_id)
    place(engine, "bob", ASK, 3000, 100)
    place(engine, "alice", BID, 3000, 100, IOC)
    clock.advance_ms(61_000)
    engine.advance()
    assert gone.order_id not in {o.order_id for o in engine.orders("alice")}
    assert len(engine.fills("alice")) == 1  # fills live longer than order history
    clock.advance_ms(60_000)
    engine.advance()
    assert engine.fills("alice") == []
    assert engine.trades(TICKER) == []
    assert engine.positions("alice")[0].position == 100  # current state is never trimmed
