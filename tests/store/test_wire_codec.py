"""Log items encoded by dora for a low-level client: exactly what boto3's resource layer sends
for the same item, the same refusals, and back again for an item DynamoDB leaves unprocessed."""

from __future__ import annotations

import enum
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from dora.store.codec import from_wire_item, to_item, to_wire_item
from dora.store.store import Store
from dora.store.tables import EXECUTION_LOG


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Unset(enum.Enum):
    NOTHING = None


def resource_layer(fields: dict[str, Any]) -> dict[str, Any]:
    """What the resource layer sends: dora's checked item, serialized by boto3."""
    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in to_item(fields).items()}


numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=6,
                min_value=Decimal("-1e12"), max_value=Decimal("1e12")),
    st.fractions(max_denominator=1).map(Fraction),
    st.sampled_from([Fraction(1, 8), Fraction(-3, 4)]),
)
scalars = st.one_of(st.text(max_size=12), st.booleans(), st.none(), numbers,
                    st.sampled_from([Colour.RED, Level.HIGH, Unset.NOTHING]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=4)), max_leaves=20)


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=1, max_size=6))
def test_an_item_is_encoded_as_the_resource_layer_encodes_it(fields: dict[str, Any]) -> None:
    assert to_wire_item(fields) == resource_layer(fields)


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=1, max_size=6))
def test_an_unprocessed_item_comes_back_as_the_values_it_was_sent_with(
    fields: dict[str, Any],
) -> None:
    assert from_wire_item(to_wire_item(fields)) == _lists(to_item(fields))


@given(st.integers(min_value=-(10**40), max_value=10**40), st.integers(0, 12), st.integers(0, 12))
def test_a_terminating_fraction_is_stored_exactly_or_refused(
    numerator: int, twos: int, fives: int,
) -> None:
    """Exactly at any length (past the 28 digits of Python's default decimal context); past
    DynamoDB's 38 digits both encodings refuse it."""
    value = Fraction(numerator, 2**twos * 5**fives)
    assert Fraction(to_item({"x": value})["x"]) == value
    assert _outcome(to_wire_item, {"x": value}) == _outcome(resource_layer, {"x": value})


def _outcome(encode: Any, fields: dict[str, Any]) -> Any:
    try:
        return encode(fields)
    except (TypeError, ArithmeticError):
        return "refused"


def _lists(value: Any) -> Any:
    """DynamoDB's lists come back as lists, whatever sequence went in."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def test_a_typical_execution_row_is_the_attribute_value_json_dynamodb_takes() -> None:
    row = {"bot_run_id": "run", "count": 2, "ok": True, "note": None,
           "orders": [{"price": Decimal("0.4500"), "side": "bid"}], "skew": Fraction(-1, 8)}
    assert to_wire_item(row) == {
        "bot_run_id": {"S": "run"}, "count": {"N": "2"}, "ok": {"BOOL": True},
        "note": {"NULL": True},
        "orders": {"L": [{"M": {"price": {"N": "0.4500"}, "side": {"S": "bid"}}}]},
        "skew": {"N": "-0.125"},
    }


@pytest.mark.parametrize(("bad", "says"), [
    (0.5, "stored exactly"), ({"nested": [1.25]}, r"fair_value\.nested\[0\]"),
    (Decimal("NaN"), "finite"), (Decimal("Infinity"), "finite"),
    (Fraction(1, 3), "exact decimal"), (Decimal("1." + "1" * 40), "stored exactly"),
    (object(), "stored exactly"),
])
def test_a_value_dynamodb_cannot_hold_exactly_is_refused_naming_where(bad: Any, says: str) -> None:
    with pytest.raises(TypeError, match=says):
        to_wire_item({"market_id": "KXA", "fair_value": bad})


def test_a_nested_batch_row_reads_back_as_the_resource_layer_would_have_stored_it(
    store: Store, resource: Any,
) -> None:
    orders = [{"client_order_id": f"dora-x-{n}", "price": Decimal("0.4500"), "count": n,
               "status": "ACCEPTED", "error": None, "post_only": True} for n in range(25)]
    (row,) = store.execution_items([{"bot_run_id": "run", "decision_id": "run:KXA:1",
                                     "event_type": "BATCH_PLACE", "orders": orders,
                                     "skew": Fraction(1, 8)}])
    assert store.write_log_batch(EXECUTION_LOG, [row]) == []
    (stored,) = resource.Table("dora_execution_log_test").scan()["Items"]
    assert stored == to_item(row)
