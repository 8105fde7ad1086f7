"""The ``positions`` item keeps every open position and leaves flat ones out: it stays bounded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dora.core.models import Fill, OrderBook, PositionState, Side
from dora.core.positions import apply_fill, avg_entry_price, unrealized_pnl
from dora.store.items import parse_positions, positions_body
from dora.store.store import Store

NOW = 1_767_225_600_000
ITEM_LIMIT = 400 * 1024  # DynamoDB's maximum item size, in bytes
LONG = PositionState("KXLONG", net=1_000, open_cost=5_530_000, realized_pnl=-12_345,
                     fees_paid=7_000)
SHORT = PositionState("KXSHORT", net=-250, open_cost=1_025_000, realized_pnl=1_000_001,
                      fees_paid=1)
COST_ONLY = PositionState("KXCOST", net=0, open_cost=3)  # not flat: cost is still open
SETTLED = PositionState("KXSETTLED", realized_pnl=-4_000_000, fees_paid=20_000, settled=True)
TRADED_FLAT = PositionState("KXTRADED", realized_pnl=250_000, fees_paid=14_000)


# -- DynamoDB item size, per AWS's published rules (numbers rounded up a little) -------------------
def _number_size(value: Decimal | int) -> int:
    text = format(Decimal(value).normalize(), "f")
    whole, _, fraction = text.lstrip("-").partition(".")
    whole, fraction = whole.lstrip("0"), fraction.rstrip("0")
    return -(-len(whole) // 2) - (-len(fraction) // 2) + 1 + text.startswith("-")


def _value_size(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, Decimal | int):
        return _number_size(value)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict):
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in value.items())
    raise TypeError(f"no size rule for {type(value).__name__}")


def _item_size(body: dict[str, Any]) -> int:
    item = {"key": "positions", "version": Decimal(10**9), **body}
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _open_positions(count: int) -> dict[str, PositionState]:
    """Open positions with long tickers and many-digit amounts: a pessimistic but real shape."""
    tickers = (f"KXHIGHTEMPNYC-26JAN01-B{n:08d}.5" for n in range(count))
    return {t: PositionState(t, net=-1_234_567, open_cost=6_830_678_901,
                             realized_pnl=-1_234_567_891, fees_paid=123_456_789,
                             opened_ms=NOW - 86_400_000, last_reduced_ms=NOW - 1)
            for t in tickers}


# -- tests ---------------------------------------------------------------------------------------
def test_flat_positions_are_left_out_and_every_other_one_is_kept(
    store: Store, make_store: Any
) -> None:
    positions = {p.ticker: p for p in (LONG, SHORT, COST_ONLY, SETTLED, TRADED_FLAT)}
    store.save_snapshot(positions, store.load_state().risk, {})

    restored = make_store().load_state().positions

    assert restored == {p.ticker: p for p in (LONG, SHORT, COST_ONLY)}


def _reloaded(position: PositionState) -> PositionState:
    parsed = parse_positions(positions_body({position.ticker: position}, NOW))
    return parsed.get(position.ticker, PositionState(position.ticker))


@pytest.mark.parametrize("flat", [SETTLED, TRADED_FLAT], ids=["settled", "closed-by-trading"])
def test_a_left_out_flat_position_reads_back_as_flat(flat: PositionState) -> None:
    restored = _reloaded(flat)
    book = OrderBook(flat.ticker, (), ())
    assert (restored.net, restored.open_cost) == (flat.net, flat.open_cost) == (0, 0)
    assert unrealized_pnl(restored, book) == unrealized_pnl(flat, book) == 0
    assert avg_entry_price(restored) is avg_entry_price(flat) is None


def test_a_fill_after_the_reload_opens_the_same_lot_with_the_same_pnl_delta() -> None:
    fill = Fill(fill_id="f1", order_id="o1", ticker=TRADED_FLAT.ticker, side=Side.ASK,
                price=4_000, count=500, fee=7_000, is_taker=False, ts_ms=NOW)
    restored, restored_delta = apply_fill(_reloaded(TRADED_FLAT), fill)
    kept, kept_delta = apply_fill(TRADED_FLAT, fill)
    assert (restored.net, restored.open_cost, restored_delta) == (
        kept.net, kept.open_cost, kept_delta) == (-500, 2_000_000, -7_000)


def test_the_item_stays_small_however_many_markets_went_flat() -> None:
    tickers = [f"KXOLD-{n:05d}" for n in range(10_000)]
    positions = {t: PositionState(t, realized_pnl=n, settled=n % 2 == 0)
                 for n, t in enumerate(tickers)}
    positions[LONG.ticker] = LONG
    body = positions_body(positions, NOW)
    assert list(body["positions"]) == [LONG.ticker]
    assert _item_size(body) < 1_000


def test_three_thousand_open_positions_are_all_kept() -> None:
    positions = _open_positions(3_000)  # parsed back whole (one item could not hold them)
    assert parse_positions(positions_body(positions, NOW)) == positions


def test_one_item_holds_between_1900_and_2500_open_positions() -> None:
    """Flat positions cost nothing now; open ones still share one item. With long tickers,
    many-digit amounts and both age fields each costs about 205 bytes (160 without the ages),
    so 2,500 open positions would not fit."""
    base = _item_size(positions_body({}, NOW))
    per_position = (_item_size(positions_body(_open_positions(100), NOW)) - base) / 100
    capacity = int((ITEM_LIMIT - base) // per_position)
    assert 1_900 < capacity < 2_500
    assert _item_size(positions_body(_open_positions(1_900), NOW)) < ITEM_LIMIT


def test_the_lot_age_is_saved_and_an_item_without_it_still_loads() -> None:
    aged = PositionState("KXAGED", net=300, open_cost=150_000, opened_ms=NOW - 5_000,
                         last_reduced_ms=NOW - 1_000)
    assert _reloaded(aged) == aged
    body = positions_body({"KXAGED": aged}, NOW)
    entry = body["positions"]["KXAGED"]
    assert (entry["opened_ts_ms"], entry["last_reduced_ts_ms"]) == (NOW - 5_000, NOW - 1_000)
    del entry["opened_ts_ms"], entry["last_reduced_ts_ms"]  # as an older dora wrote it
    old = parse_positions(body)["KXAGED"]
    assert (old.opened_ms, old.last_reduced_ms) == (0, 0)
    assert (old.net, old.open_cost) == (aged.net, aged.open_cost)
