from __future__ import annotations

from fractions import Fraction

from dora.core.models import Side
from dora.core.ticks import is_valid_price
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.flow import FLOW_MAKER, FLOW_TAKER
from dora.sim.engine.records import SimTrade
from tests.sim.engine.helpers import ASK, BID, CASH, DAY_MS, place

STRUCTURES = ("linear_cent", "tapered_deci_cent", "deci_cent")


def _engine(seed: int, clock: FakeClock) -> Engine:
    engine = Engine(clock, seed=seed)
    for i, structure in enumerate(STRUCTURES):
        engine.add_market(f"F{i}", close_ms=clock.now_ms() + DAY_MS,
                          price_level_structure=structure, fair_value=2000 + 3000 * i)
    return engine


def _run(seed: int, steps_ms: list[int]) -> list[SimTrade]:
    clock = FakeClock()
    engine = _engine(seed, clock)
    for step in steps_ms:
        clock.advance_ms(step)
        engine.advance()
    return engine.trades()


def test_same_seed_and_clock_readings_give_the_same_tape() -> None:
    steps = [250, 1700, 3, 9000, 400] * 20
    first = _run(11, steps)
    assert len(first) > 20
    assert _run(11, steps) == first
    assert _run(12, steps) != first


def test_the_tape_does_not_depend_on_how_often_advance_is_called() -> None:
    assert _run(5, [60_000]) == _run(5, [1000] * 60)


def test_flow_books_stay_sane_and_two_sided(clock: FakeClock) -> None:
    engine = _engine(3, clock)
    samples = two_sided = 0
    for _ in range(300):
        clock.advance_ms(1000)
        engine.advance()
        for market in engine.markets():
            bids, asks = engine.book(market.ticker)
            samples += 1
            if bids and asks:
                two_sided += 1
                assert bids[0][0] < asks[0][0]
            assert all(is_valid_price(market.price_ranges, p) for p, _ in bids + asks)
    assert two_sided * 100 >= samples * 95  # a sweep may empty a side until the next refresh
    users = {f.user_id for f in engine.fills(FLOW_TAKER)}
    assert users == {FLOW_TAKER}
    assert engine.fills(FLOW_MAKER)


def test_a_maker_inside_the_spread_gets_filled(clock: FakeClock) -> None:
    engine = _engine(8, clock)
    engine.open_account("mm", CASH)
    clock.advance_ms(5_000)
    engine.advance()
    for market in engine.markets():
        best_bid, best_ask = market.best_bid, market.best_ask
        assert best_bid is not None and best_ask is not None
        assert best_ask - best_bid >= 300
        place(engine, "mm", BID, best_bid + 100, 500, ticker=market.ticker)
        place(engine, "mm", ASK, best_ask - 100, 500, ticker=market.ticker)
    for _ in range(10 * 60):
        clock.advance_ms(1000)
        engine.advance()
    fills = engine.fills("mm")
    assert {f.ticker for f in fills} == {"F0", "F1", "F2"}
    assert all(not f.is_taker for f in fills)
    assert {f.side for f in fills} == {Side.BID, Side.ASK}


def test_flow_can_be_turned_off_per_market_and_globally(clock: FakeClock) -> None:
    engine = _engine(4, clock)  # each market's first ladder is quoted at once
    engine.configure_flow("F1", enabled=False)
    engine.configure_flow("F2", taker_rate_per_s=Fraction(0), maker_rate_per_s=Fraction(0))
    books = {t: engine.book(t) for t in ("F1", "F2")}
    clock.advance_ms(120_000)
    engine.advance()
    assert {t: engine.book(t) for t in ("F1", "F2")} == books  # left alone, never refreshed
    assert engine.trades("F1") == engine.trades("F2") == []
    assert engine.trades("F0")
    engine.configure_flow(None, enabled=False)
    count = len(engine.trades())
    clock.advance_ms(120_000)
    engine.advance()
    assert len(engine.trades()) == count


def test_fair_value_anchor_moves_the_flow(clock: FakeClock) -> None:
    engine = _engine(6, clock)
    engine.set_fair_value("F0", 8000)
    clock.advance_ms(30_000)
    engine.advance()
    bids, asks = engine.book("F0")
    assert 7000 < bids[0][0] < asks[0][0] < 9000


def test_a_stale_quote_is_picked_off_when_the_fair_value_moves(clock: FakeClock) -> None:
    engine = _engine(2, clock)
    engine.open_account("mm", CASH)
    engine.set_fair_value("F1", 5000)
    clock.advance_ms(3_000)
    stale = place(engine, "mm", ASK, 5200, 300, ticker="F1")
    engine.set_fair_value("F1", 6000)
    clock.advance_ms(30_000)
    engine.advance()
    assert engine.order("mm", stale.order_id).filled == 300  # sold at 0.52 what is worth 0.60


def test_flow_stops_on_a_closed_market(clock: FakeClock) -> None:
    engine = Engine(clock, seed=2)
    engine.add_market("ONLY", close_ms=clock.now_ms() + 10_000)
    clock.advance_ms(5_000)
    engine.advance()
    assert engine.counters()["flow_events"] > 3  # drift alone runs every second
    clock.advance_ms(6_000)
    engine.advance()  # the close passes
    before = engine.counters()["flow_events"]
    clock.advance_ms(600_000)
    engine.advance()
    assert engine.counters()["flow_events"] == before
    assert engine.book("ONLY") == ([], [])


def test_seed_book_gives_a_static_book_with_the_flow_off(clock: FakeClock) -> None:
    engine = Engine(clock, seed=1)
    engine.configure_flow(None, enabled=False)
    engine.add_market("S", close_ms=clock.now_ms() + DAY_MS, fair_value=4000)
    assert engine.book("S") == ([], [])
    engine.seed_book("S")
    bids, asks = engine.book("S")
    assert len(bids) == len(asks) == 3
    assert bids[0][0] < 4000 < asks[0][0]
    clock.advance_ms(60_000)
    assert engine.book("S") == (bids, asks)
