"""Grid ladders (one bisect per side) step exactly like repeated ``ticks_*`` calls."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dora.core.grid import ladder_down, ladder_up, ticks_above, ticks_below, valid_prices
from dora.core.models import PRICE_LEVEL_STRUCTURES

structures = st.sampled_from(sorted(PRICE_LEVEL_STRUCTURES))


def stepped(grid: tuple[int, ...], top: int, spacing: int, count: int, down: bool) -> list[int]:
    """The ladder the slow way: level k is ``ticks_*`` by k * spacing, stopping at the grid end."""
    out = [top]
    for k in range(1, count):
        price = (ticks_below if down else ticks_above)(grid, top, k * spacing)
        if price is None:
            break
        out.append(price)
    return out


@given(structures, st.integers(min_value=1, max_value=9_999), st.integers(min_value=1, max_value=4),
       st.integers(min_value=1, max_value=6))
def test_ladders_step_like_ticks_below_and_above(
    structure: str, top: int, spacing: int, count: int
) -> None:
    grid = valid_prices(PRICE_LEVEL_STRUCTURES[structure])
    assert list(ladder_down(grid, top, spacing, count)) == stepped(grid, top, spacing, count, True)
    assert list(ladder_up(grid, top, spacing, count)) == stepped(grid, top, spacing, count, False)


def test_ladders_stop_at_the_ends_of_the_grid() -> None:
    grid = valid_prices(PRICE_LEVEL_STRUCTURES["linear_cent"])
    assert ladder_down(grid, 200, 1, 5) == (200, 100)
    assert ladder_up(grid, 9800, 1, 5) == (9800, 9900)
    assert ladder_down(grid, 100, 2, 3) == (100,)
