from __future__ import annotations

import pytest

from dora.core.models import OrderStatus
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import EngineError
from tests.sim.engine.helpers import ASK, BID, IOC, place


def _refused(engine: Engine, group_id: str) -> tuple[int, str]:
    with pytest.raises(EngineError) as exc:
        place(engine, "alice", BID, 3000, 100, order_group_id=group_id)
    return exc.value.status, exc.value.code


def test_group_lists_its_resting_orders(engine: Engine) -> None:
    group = engine.create_group("alice", 1000)
    order = place(engine, "alice", BID, 4000, 100, order_group_id=group.group_id)
    place(engine, "alice", BID, 3900, 100)
    assert engine.group("alice", group.group_id).order_ids == (order.order_id,)
    assert [g.group_id for g in engine.groups("alice")] == [group.group_id]
    assert engine.groups("bob") == []


def test_reaching_the_limit_cancels_the_group_and_refuses_new_orders(engine: Engine) -> None:
    group = engine.create_group("alice", 300)
    gid = group.group_id
    bid = place(engine, "alice", BID, 4000, 500, order_group_id=gid)
    ask = place(engine, "alice", ASK, 6000, 500, order_group_id=gid)
    place(engine, "bob", ASK, 4000, 200, IOC)
    assert engine.order("alice", ask.order_id).status is OrderStatus.RESTING
    place(engine, "bob", ASK, 4000, 100, IOC)  # 300 matched in the window: limit reached
    assert engine.order("alice", bid.order_id).status is OrderStatus.CANCELED
    assert engine.order("alice", ask.order_id).status is OrderStatus.CANCELED
    assert engine.group("alice", gid).triggered
    assert _refused(engine, gid) == (409, "order_group_triggered")
    engine.reset_group("alice", gid)
    assert place(engine, "alice", BID, 3000, 100, order_group_id=gid).status is \
        OrderStatus.RESTING


def test_window_is_rolling_fifteen_seconds(engine: Engine, clock: FakeClock) -> None:
    gid = engine.create_group("alice", 300).group_id
    bid = place(engine, "alice", BID, 4000, 1000, order_group_id=gid)
    place(engine, "bob", ASK, 4000, 200, IOC)
    clock.advance_ms(15_000)  # the first 200 leave the window
    place(engine, "bob", ASK, 4000, 200, IOC)
    assert engine.order("alice", bid.order_id).status is OrderStatus.RESTING
    clock.advance_ms(14_999)
    place(engine, "bob", ASK, 4000, 100, IOC)  # 200 + 100 within 15 s
    assert engine.order("alice", bid.order_id).status is OrderStatus.CANCELED


def test_taker_order_in_a_group_stops_when_the_limit_is_hit(engine: Engine) -> None:
    gid = engine.create_group("alice", 200).group_id
    place(engine, "bob", ASK, 4000, 200)
    place(engine, "bob", ASK, 4100, 200)
    taker = place(engine, "alice", BID, 4100, 400, order_group_id=gid)
    assert (taker.filled, taker.status) == (200, OrderStatus.CANCELED)


def test_trigger_cancels_and_blocks_until_reset(engine: Engine) -> None:
    gid = engine.create_group("alice", 1000).group_id
    order = place(engine, "alice", BID, 4000, 100, order_group_id=gid)
    engine.trigger_group("alice", gid)
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED
    assert _refused(engine, gid) == (409, "order_group_triggered")


def test_lowering_the_limit_below_the_window_triggers_at_once(engine: Engine) -> None:
    gid = engine.create_group("alice", 1000).group_id
    order = place(engine, "alice", BID, 4000, 1000, order_group_id=gid)
    place(engine, "bob", ASK, 4000, 300, IOC)
    engine.update_group_limit("alice", gid, 500)
    assert engine.order("alice", order.order_id).status is OrderStatus.RESTING
    engine.update_group_limit("alice", gid, 300)
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED
    assert engine.group("alice", gid).contracts_limit == 300


def test_delete_cancels_orders_and_forgets_the_group(engine: Engine) -> None:
    gid = engine.create_group("alice", 1000).group_id
    order = place(engine, "alice", BID, 4000, 100, order_group_id=gid)
    engine.delete_group("alice", gid)
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED
    assert _refused(engine, gid) == (404, "not_found")


@pytest.mark.parametrize("call", ["group", "reset_group", "trigger_group", "delete_group"])
def test_unknown_or_foreign_group_is_404(engine: Engine, call: str) -> None:
    foreign = engine.create_group("bob", 100).group_id
    for gid in ("nope", foreign):
        with pytest.raises(EngineError) as exc:
            getattr(engine, call)("alice", gid)
        assert (exc.value.status, exc.value.code) == (404, "not_found")


def test_limit_must_be_positive(engine: Engine) -> None:
    with pytest.raises(EngineError):
        engine.create_group("alice", 0)
