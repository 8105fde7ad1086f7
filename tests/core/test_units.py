from decimal import Decimal

import pytest

from dora.core.models import LINEAR_CENT, TAPERED_DECI_CENT, SnapDirection
from dora.core.ticks import is_valid_price, next_tick, snap_price
from dora.core.units import (
    UnitError,
    dollars_decimal_to_price,
    format_count,
    format_dollars,
    format_micros,
    format_price,
    notional,
    parse_count,
    parse_micros,
    parse_price,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("0.5600", 5600),
        ("0.29", 2900),
        ("0.58", 5800),
        ("0.560000", 5600),
        ("1", 10000),
        ("0.0001", 1),
    ],
)
def test_parse_price_is_exact(text, units):
    assert parse_price(text) == units


def test_cent_prices_are_not_truncated():
    # the predecessor sent 29c as 28c via int(0.29 * 100)
    assert [parse_price(f"0.{c:02d}") for c in (29, 57, 58)] == [2900, 5700, 5800]


@pytest.mark.parametrize(
    "bad", ["0.56001", "abc", "", "1.2.3", "0.5x", "0.\u0665", "\u00b2", "0.\u00b2"])
def test_parse_price_rejects_inexact_or_malformed(bad):
    with pytest.raises(UnitError):
        parse_price(bad)


def test_round_trips():
    assert format_price(5600) == "0.5600"
    assert format_count(1000) == "10.00"
    assert format_count(-150) == "-1.50"
    assert parse_count("10.00") == 1000
    assert parse_micros("0.017500") == 17500
    assert format_micros(-17500) == "-0.017500"


def test_notional_is_micros():
    assert notional(parse_price("0.56"), parse_count("10")) == parse_micros("5.60")


def test_decimal_config_values():
    assert dollars_decimal_to_price(Decimal("0.06")) == 600
    with pytest.raises(UnitError):
        dollars_decimal_to_price(True)


def test_linear_cent_grid():
    assert is_valid_price(LINEAR_CENT, 2900)
    assert not is_valid_price(LINEAR_CENT, 2950)
    assert not is_valid_price(LINEAR_CENT, 0)
    assert not is_valid_price(LINEAR_CENT, 10000)
    assert snap_price(LINEAR_CENT, 2950, SnapDirection.DOWN) == 2900
    assert snap_price(LINEAR_CENT, 2950, SnapDirection.UP) == 3000
    assert snap_price(LINEAR_CENT, 50, SnapDirection.DOWN) is None
    assert next_tick(LINEAR_CENT, 2900, SnapDirection.UP) == 3000


def test_tapered_deci_cent_grid():
    assert is_valid_price(TAPERED_DECI_CENT, 50)  # $0.005
    assert not is_valid_price(TAPERED_DECI_CENT, 1050)  # $0.105 between 0.10 and 0.90
    assert next_tick(TAPERED_DECI_CENT, 1000, SnapDirection.DOWN) == 990
    assert next_tick(TAPERED_DECI_CENT, 1000, SnapDirection.UP) == 1100
    assert next_tick(TAPERED_DECI_CENT, 9000, SnapDirection.UP) == 9010
    assert snap_price(TAPERED_DECI_CENT, 9995, SnapDirection.UP) is None


@pytest.mark.parametrize(
    ("micros", "text"),
    [(0, "$0.00"), (4_999, "$0.00"), (5_000, "$0.01"), (-5_000, "-$0.01"), (-4_999, "$0.00"),
     (1_234_567_890, "$1,234.57"), (-2_540_000, "-$2.54"), (994_999, "$0.99"), (995_000, "$1.00")],
)
def test_format_dollars_rounds_half_away_from_zero_to_cents(micros, text):
    assert format_dollars(micros) == text
