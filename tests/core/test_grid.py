from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dora.core.grid import snap_down, snap_up, ticks_above, ticks_below, valid_prices
from dora.core.models import PRICE_LEVEL_STRUCTURES, SnapDirection
from dora.core.ticks import next_tick, snap_price

structures = st.sampled_from(sorted(PRICE_LEVEL_STRUCTURES))
prices = st.integers(min_value=0, max_value=10_000)  # the domain book prices live in


@given(structures, prices)
def test_grid_table_agrees_with_dora_ticks(structure: str, price: int) -> None:
    ranges = PRICE_LEVEL_STRUCTURES[structure]
    grid = valid_prices(ranges)
    assert snap_down(grid, price) == snap_price(ranges, price, SnapDirection.DOWN)
    assert snap_up(grid, price) == snap_price(ranges, price, SnapDirection.UP)
    assert ticks_below(grid, price) == next_tick(ranges, price, SnapDirection.DOWN)
    assert ticks_above(grid, price) == next_tick(ranges, price, SnapDirection.UP)


@given(structures, prices, st.integers(min_value=1, max_value=6))
def test_stepping_n_ticks_is_n_single_steps(structure: str, price: int, n: int) -> None:
    ranges = PRICE_LEVEL_STRUCTURES[structure]
    grid = valid_prices(ranges)
    down: int | None = price
    up: int | None = price
    for _ in range(n):
        down = next_tick(ranges, down, SnapDirection.DOWN) if down is not None else None
        up = next_tick(ranges, up, SnapDirection.UP) if up is not None else None
    assert ticks_below(grid, price, n) == down
    assert ticks_above(grid, price, n) == up
