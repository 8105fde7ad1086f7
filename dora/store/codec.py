"""Value encoding at the DynamoDB boundary: TTL times, exact money, and a guard against floats."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer

from dora.core.models import TsMs
from dora.core.timefmt import MS_PER_DAY
from dora.core.units import (
    COUNT_DIGITS,
    MICROS_DIGITS,
    Count,
    Micros,
    contracts_decimal_to_count,
    dollars_decimal_to_micros,
)


def expires_at(now_ms: TsMs, ttl_days: int) -> int:
    """DynamoDB TTL value: epoch seconds, ``ttl_days`` after now."""
    return (now_ms + ttl_days * MS_PER_DAY) // 1000


def to_item_value(value: Any, path: str = "item") -> Any:
    """A value DynamoDB can store exactly: str, bool, int, Decimal, None, maps and lists of them.

    A Fraction is stored when its decimal expansion terminates (1/4 -> 0.25). A float, a
    non-terminating Fraction or any other type raises TypeError naming where it was.
    """
    if value is None or isinstance(value, bool | int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise TypeError(f"{path}: {value} is not a finite number")
        return value
    if isinstance(value, Fraction):
        return _fraction_to_decimal(value, path)
    if isinstance(value, Enum):
        return to_item_value(value.value, path)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_item_value(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_item_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} cannot be stored exactly ({value!r})")


def _fraction_to_decimal(value: Fraction, path: str) -> Decimal:
    twos = fives = 0
    rest = value.denominator
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        raise TypeError(f"{path}: {value} has no exact decimal form")
    digits = max(twos, fives)
    # from text, so exact at any length (scaleb would round to the context's 28 digits); the
    # 38 digits DynamoDB holds are checked where the value is serialized
    return Decimal(f"{value.numerator * (10**digits // value.denominator)}E-{digits}")


def to_item(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): to_item_value(v, str(k)) for k, v in fields.items()}


def to_wire_item(fields: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``to_item(fields)`` as DynamoDB's attribute-value JSON, for a low-level client (what the
    resource layer's serializer makes of it, in one pass). Raises TypeError as ``to_item``."""
    return {str(k): to_wire_value(v, str(k)) for k, v in fields.items()}


def to_wire_value(value: Any, path: str = "item") -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int or kind is Decimal:
        return {"N": _wire_number(value, path)}
    if value is None:
        return {"NULL": True}
    if kind is dict:
        return {"M": {str(k): to_wire_value(v, f"{path}.{k}") for k, v in value.items()}}
    if kind is list or kind is tuple:
        return {"L": [to_wire_value(v, f"{path}[{i}]") for i, v in enumerate(value)]}
    return _wire_other(to_item_value(value, path), path)


def _wire_other(value: Any, path: str) -> dict[str, Any]:
    """The rarer kinds, once ``to_item_value`` has checked and converted them (an enum, a
    fraction, another mapping, a subclass of int or str)."""
    if value is None:  # an enum whose value is None
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": bool(value)}
    if isinstance(value, int | Decimal):
        return {"N": _wire_number(value if isinstance(value, Decimal) else int(value), path)}
    if isinstance(value, str):
        return {"S": str(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_wire_value(v, f"{path}.{k}") for k, v in value.items()}}
    return {"L": [to_wire_value(v, f"{path}[{i}]") for i, v in enumerate(value)]}


def from_wire_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An attribute-value item back in Python values (an item DynamoDB left unprocessed)."""
    return {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}


_DESERIALIZER = TypeDeserializer()


def _wire_number(value: int | Decimal, path: str) -> str:
    """The resource layer's check: DynamoDB holds 38 significant digits, exactly or not at all."""
    if isinstance(value, Decimal) and not value.is_finite():
        raise TypeError(f"{path}: {value} is not a finite number")
    try:
        return str(DYNAMODB_CONTEXT.create_decimal(value))
    except ArithmeticError as exc:
        raise TypeError(f"{path}: {value} cannot be stored exactly ({exc!r})") from exc


def micros_from_item(value: Any, default: Micros = 0) -> Micros:
    """Dollars (Decimal) -> micro-dollars. Older items may carry float noise past 6 decimals,
    which is rounded half-even; dora's own items are always exact."""
    if value is None:
        return default
    return dollars_decimal_to_micros(_quantized(value, MICROS_DIGITS))


def count_from_item(value: Any, default: Count = 0) -> Count:
    if value is None:
        return default
    return contracts_decimal_to_count(_quantized(value, COUNT_DIGITS))


def int_from_item(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    number = Decimal(value) if isinstance(value, int | str) else value
    if not isinstance(number, Decimal) or number != number.to_integral_value():
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)


def _quantized(value: Any, digits: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"expected a number, got {value!r}")
    return Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
