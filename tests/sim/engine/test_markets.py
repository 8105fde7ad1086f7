from __future__ import annotations

import pytest

from dora.core.models import MarketStatus, OrderStatus
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import EngineError
from tests.sim.engine.helpers import ASK, BID, DAY_MS, IOC, TICKER, place


def _code(engine: Engine, user: str, *args: object, **kwargs: object) -> tuple[int, str]:
    with pytest.raises(EngineError) as exc:
        place(engine, user, *args, **kwargs)  # type: ignore[arg-type]
    return exc.value.status, exc.value.code


@pytest.mark.parametrize(("structure", "price", "valid"), [
    ("linear_cent", 4500, True), ("linear_cent", 4510, False), ("linear_cent", 100, True),
    ("tapered_deci_cent", 50, True), ("tapered_deci_cent", 9_990, True),
    ("tapered_deci_cent", 5010, False), ("tapered_deci_cent", 55, False),
    ("deci_cent", 5010, True), ("deci_cent", 5015, False),
    ("linear_cent", 0, False), ("linear_cent", 10_000, False), ("deci_cent", -10, False),
])
def test_price_grid(engine: Engine, clock: FakeClock, structure: str, price: int,
                    valid: bool) -> None:
    engine.add_market("GRID", close_ms=clock.now_ms() + DAY_MS, price_level_structure=structure)
    if valid:
        assert place(engine, "alice", BID, price, 100, ticker="GRID").status is OrderStatus.RESTING
    else:
        assert _code(engine, "alice", BID, price, 100, ticker="GRID") == (400, "invalid_price")


@pytest.mark.parametrize(("fractional", "count", "valid"), [
    (False, 100, True), (False, 150, False), (False, 0, False), (False, -100, False),
    (True, 1, True), (True, 150, True), (True, 0, False),
])
def test_count_granularity(engine: Engine, clock: FakeClock, fractional: bool, count: int,
                           valid: bool) -> None:
    engine.add_market("FRAC", close_ms=clock.now_ms() + DAY_MS, fractional=fractional)
    if valid:
        assert place(engine, "alice", BID, 4000, count, ticker="FRAC").remaining == count
    else:
        assert _code(engine, "alice", BID, 4000, count, ticker="FRAC") == (
            400, "invalid_parameters")


def test_unknown_market(engine: Engine) -> None:
    assert _code(engine, "alice", BID, 4000, 100, ticker="NOPE") == (404, "market_not_found")
    with pytest.raises(EngineError):
        engine.market("NOPE")


def test_pause_refuses_orders_and_cancels_cancel_on_pause_orders(engine: Engine) -> None:
    keep = place(engine, "alice", BID, 4000, 100)
    drop = place(engine, "alice", BID, 3900, 100, cancel_order_on_pause=True)
    engine.pause_market(TICKER)
    assert engine.market(TICKER).status is MarketStatus.INACTIVE
    assert engine.order("alice", keep.order_id).status is OrderStatus.RESTING
    assert engine.order("alice", drop.order_id).status is OrderStatus.CANCELED
    assert _code(engine, "bob", ASK, 4000, 100, IOC) == (409, "trading_is_paused")
    engine.resume_market(TICKER)
    assert place(engine, "bob", ASK, 4000, 100, IOC).filled == 100


def test_exchange_wide_trading_pause(engine: Engine) -> None:
    drop = place(engine, "alice", BID, 3900, 100, cancel_order_on_pause=True)
    engine.set_trading_active(False)
    assert engine.trading_active is False
    assert engine.order("alice", drop.order_id).status is OrderStatus.CANCELED
    assert _code(engine, "bob", BID, 4000, 100) == (409, "trading_is_paused")
    engine.set_trading_active(True)
    assert place(engine, "bob", BID, 4000, 100).status is OrderStatus.RESTING


def test_market_closes_when_close_time_passes(engine: Engine, clock: FakeClock) -> None:
    engine.add_market("SOON", close_ms=clock.now_ms() + 60_000)
    order = place(engine, "alice", BID, 4000, 100, ticker="SOON")
    clock.advance_ms(59_999)
    engine.advance()
    assert engine.market("SOON").status is MarketStatus.ACTIVE
    clock.advance_ms(1)
    engine.advance()
    assert engine.market("SOON").status is MarketStatus.CLOSED
    assert engine.order("alice", order.order_id).status is OrderStatus.CANCELED
    assert _code(engine, "alice", BID, 4000, 100, ticker="SOON") == (409, "market_closed")


def test_unopened_market_opens_at_open_time(engine: Engine, clock: FakeClock) -> None:
    engine.add_market("LATER", close_ms=clock.now_ms() + DAY_MS,
                      status=MarketStatus.INITIALIZED, open_ms=clock.now_ms() + 1000)
    assert _code(engine, "alice", BID, 4000, 100, ticker="LATER") == (409, "market_closed")
    clock.advance_ms(1000)
    assert place(engine, "alice", BID, 4000, 100, ticker="LATER").status is OrderStatus.RESTING


def test_close_then_settle_finalizes(engine: Engine) -> None:
    engine.close_market(TICKER)
    assert engine.market(TICKER).status is MarketStatus.CLOSED
    engine.settle_market(TICKER, "yes")
    market = engine.market(TICKER)
    assert (market.status, market.result) == (MarketStatus.FINALIZED, "yes")
    assert market.settled_ms is not None
    with pytest.raises(EngineError):
        engine.settle_market(TICKER, "no")


def test_markets_status_filter_vocabulary(engine: Engine, clock: FakeClock) -> None:
    engine.add_market("PAUSED", close_ms=clock.now_ms() + DAY_MS)
    engine.add_market("DONE", close_ms=clock.now_ms() + DAY_MS)
    engine.pause_market("PAUSED")
    engine.settle_market("DONE", "no")
    assert [m.ticker for m in engine.markets(status="open")] == [TICKER]
    assert [m.ticker for m in engine.markets(status="paused")] == ["PAUSED"]
    assert [m.ticker for m in engine.markets(status="settled")] == ["DONE"]
    assert [m.ticker for m in engine.markets(tickers=["DONE", "X"])] == ["DONE"]
    with pytest.raises(EngineError):
        engine.markets(status="bogus")


def test_market_snapshot_tracks_top_of_book_and_trades(engine: Engine) -> None:
    place(engine, "alice", BID, 4000, 300)
    place(engine, "bob", ASK, 4500, 200)
    place(engine, "carol", BID, 4500, 100, IOC)
    market = engine.market(TICKER)
    assert (market.best_bid, market.best_bid_size) == (4000, 300)
    assert (market.best_ask, market.best_ask_size) == (4500, 100)
    assert (market.last_price, market.volume) == (4500, 100)
