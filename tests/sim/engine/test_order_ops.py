from __future__ import annotations

import pytest

from dora.core.models import OrderStatus
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import EngineError
from tests.sim.engine.helpers import ASK, BID, IOC, TICKER, place


def _error(exc: pytest.ExceptionInfo[EngineError]) -> tuple[int, str]:
    return exc.value.status, exc.value.code


def test_cancel_returns_snapshot_and_reduced_by(engine: Engine) -> None:
    place(engine, "bob", ASK, 5000, 100)
    order = place(engine, "alice", BID, 5000, 400)
    snap, reduced_by = engine.cancel_order("alice", order.order_id)
    assert reduced_by == 300
    assert (snap.status, snap.filled, snap.remaining) == (OrderStatus.CANCELED, 100, 0)
    assert engine.book(TICKER) == ([], [])


def test_cancel_of_a_gone_order_is_404(engine: Engine) -> None:
    order = place(engine, "alice", BID, 5000, 100)
    engine.cancel_order("alice", order.order_id)
    with pytest.raises(EngineError) as exc:
        engine.cancel_order("alice", order.order_id)
    assert _error(exc) == (404, "not_found")


def test_cancel_of_an_executed_order_is_404(engine: Engine) -> None:
    order = place(engine, "alice", BID, 5000, 100)
    place(engine, "bob", ASK, 5000, 100, IOC)
    with pytest.raises(EngineError) as exc:
        engine.cancel_order("alice", order.order_id)
    assert _error(exc) == (404, "not_found")


@pytest.mark.parametrize("owner", ["alice", "bob"])
def test_cancel_unknown_or_foreign_order_is_404(engine: Engine, owner: str) -> None:
    order = place(engine, owner, BID, 5000, 100)
    order_id = order.order_id if owner == "bob" else "no-such-order"
    with pytest.raises(EngineError) as exc:
        engine.cancel_order("alice", order_id)
    assert _error(exc) == (404, "not_found")


def test_cancel_all_cancels_only_that_users_resting_orders(engine: Engine) -> None:
    place(engine, "alice", BID, 4000, 100)
    place(engine, "alice", ASK, 6000, 100)
    place(engine, "bob", BID, 4000, 100)
    assert engine.cancel_all("alice") == 2
    assert engine.book(TICKER) == ([(4000, 100)], [])


@pytest.mark.parametrize(("kwargs", "remaining"), [
    ({"reduce_by": 100}, 300), ({"reduce_to": 100}, 100), ({"reduce_by": 1000}, 0),
    ({"reduce_to": 0}, 0)])
def test_decrease(engine: Engine, kwargs: dict[str, int], remaining: int) -> None:
    order = place(engine, "alice", BID, 4000, 400)
    snap = engine.decrease_order("alice", order.order_id, **kwargs)
    assert snap.remaining == remaining
    assert snap.status is (OrderStatus.RESTING if remaining else OrderStatus.CANCELED)
    assert engine.book(TICKER)[0] == ([(4000, remaining)] if remaining else [])


@pytest.mark.parametrize("kwargs", [{}, {"reduce_by": 100, "reduce_to": 100}, {"reduce_by": 50},
                                    {"reduce_to": 500}])
def test_decrease_rejects_bad_amounts(engine: Engine, kwargs: dict[str, int]) -> None:
    order = place(engine, "alice", BID, 4000, 400)
    with pytest.raises(EngineError) as exc:
        engine.decrease_order("alice", order.order_id, **kwargs)
    assert _error(exc) == (400, "invalid_parameters")


def test_decrease_keeps_queue_priority(engine: Engine) -> None:
    first = place(engine, "alice", BID, 4000, 400)
    second = place(engine, "bob", BID, 4000, 100)
    engine.decrease_order("alice", first.order_id, reduce_to=200)
    assert dict((o, a) for o, _, a in engine.queue_positions("bob", [TICKER])) == {
        second.order_id: 200}


def test_queue_position_counts_contracts_ahead_at_the_same_price_and_side(engine: Engine) -> None:
    place(engine, "bob", BID, 4000, 300)
    place(engine, "bob", BID, 4100, 700)  # better price: not at this level
    place(engine, "bob", ASK, 6000, 500)  # other side
    mine = place(engine, "alice", BID, 4000, 100)
    place(engine, "bob", BID, 4000, 900)  # behind
    assert engine.queue_positions("alice", [TICKER]) == [(mine.order_id, TICKER, 300)]
    assert engine.queue_positions("alice", ["OTHER"]) == []


def test_amend_size_decrease_keeps_priority(engine: Engine) -> None:
    first = place(engine, "alice", BID, 4000, 400)
    place(engine, "bob", BID, 4000, 100)
    snap = engine.amend_order("alice", first.order_id, ticker=TICKER, side=BID, price=4000,
                              count=300)
    assert (snap.remaining, snap.initial) == (300, 300)
    assert engine.queue_positions("alice", [TICKER])[0][2] == 0


@pytest.mark.parametrize(("price", "count"), [(4000, 500), (4100, 400)])
def test_amend_price_change_or_size_increase_goes_to_back(engine: Engine, price: int,
                                                          count: int) -> None:
    first = place(engine, "alice", BID, 4000, 400)
    place(engine, "bob", BID, price, 100)
    engine.amend_order("alice", first.order_id, ticker=TICKER, side=BID, price=price, count=count)
    assert engine.queue_positions("alice", [TICKER])[0][2] == 100


def test_amend_count_is_new_total_including_filled(engine: Engine) -> None:
    order = place(engine, "alice", BID, 4000, 400)
    place(engine, "bob", ASK, 4000, 100, IOC)
    snap = engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4000,
                              count=600)
    assert (snap.filled, snap.remaining, snap.initial) == (100, 500, 600)


def test_amend_that_crosses_matches_as_taker(engine: Engine) -> None:
    place(engine, "bob", ASK, 4500, 100)
    order = place(engine, "alice", BID, 4000, 300)
    snap = engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4500,
                              count=300)
    assert (snap.filled, snap.remaining) == (100, 200)
    (fill,) = engine.fills("alice")
    assert (fill.is_taker, fill.price) == (True, 4500)


def test_amend_can_rename_client_order_id(engine: Engine) -> None:
    order = place(engine, "alice", BID, 4000, 300, client_order_id="old")
    snap = engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4100,
                              count=300, updated_client_order_id="new")
    assert snap.client_order_id == "new"
    assert place(engine, "alice", BID, 3000, 100, client_order_id="old").status is \
        OrderStatus.RESTING
    with pytest.raises(EngineError) as exc:
        place(engine, "alice", BID, 3000, 100, client_order_id="new")
    assert _error(exc) == (409, "order_already_exists")


def test_amend_rejects_side_change_and_gone_orders(engine: Engine) -> None:
    order = place(engine, "alice", BID, 4000, 300)
    with pytest.raises(EngineError) as exc:
        engine.amend_order("alice", order.order_id, ticker=TICKER, side=ASK, price=4000,
                           count=300)
    assert _error(exc) == (400, "invalid_parameters")
    engine.cancel_order("alice", order.order_id)
    with pytest.raises(EngineError) as exc:
        engine.amend_order("alice", order.order_id, ticker=TICKER, side=BID, price=4000,
                           count=300)
    assert _error(exc) == (404, "not_found")


def test_orders_listing_filters_and_is_newest_first(engine: Engine, clock: FakeClock) -> None:
    old = place(engine, "alice", BID, 4000, 100)
    clock.advance_ms(1000)
    new = place(engine, "alice", BID, 4100, 100)
    engine.cancel_order("alice", old.order_id)
    assert [o.order_id for o in engine.orders("alice")] == [new.order_id, old.order_id]
    resting = engine.orders("alice", status=OrderStatus.RESTING)
    assert [o.order_id for o in resting] == [new.order_id]
    recent = engine.orders("alice", min_ts_ms=clock.now_ms())
    assert [o.order_id for o in recent] == [new.order_id]
    assert engine.orders("bob") == []
