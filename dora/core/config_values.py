"""Readers for config values as DynamoDB hands them over (``Decimal``, or ``int``/``str`` from
hand-edited items; never ``float``, which cannot carry an exact price). Pure. Each reader raises
:class:`ConfigValueError` naming the field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from dora.core.units import (
    Count,
    Micros,
    Price,
    UnitError,
    contracts_decimal_to_count,
    dollars_decimal_to_micros,
    dollars_decimal_to_price,
)


class ConfigValueError(ValueError):
    """One field of a config item is malformed; the message names the field and the problem."""


def _number(key: str, value: Any) -> Decimal | int | str:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ConfigValueError(f"{key} must be a number, got {type(value).__name__}")
    return value


def _read_units_of(key: str, value: Any, convert: Callable[[Decimal | int | str], int]) -> int:
    try:
        return convert(_number(key, value))
    except UnitError as exc:
        raise ConfigValueError(f"{key}: {exc}") from exc


def read_price(key: str, value: Any) -> Price:
    return _read_units_of(key, value, dollars_decimal_to_price)


def read_count(key: str, value: Any) -> Count:
    return _read_units_of(key, value, contracts_decimal_to_count)


def read_micros(key: str, value: Any) -> Micros:
    return _read_units_of(key, value, dollars_decimal_to_micros)


def _finite_decimal(key: str, value: Any, kind: str) -> Decimal:
    """The value as an exact finite Decimal, or a ConfigValueError saying it must be ``kind``."""
    try:
        exact = Decimal(_number(key, value))
    except ArithmeticError as exc:
        raise ConfigValueError(f"{key} must be {kind}, got {value!r}") from exc
    if not exact.is_finite():
        raise ConfigValueError(f"{key} must be {kind}, got {value!r}")
    return exact


def read_int(key: str, value: Any) -> int:
    exact = _finite_decimal(key, value, "an integer")
    if exact != exact.to_integral_value():
        raise ConfigValueError(f"{key} must be an integer, got {value!r}")
    return int(exact)


def read_fraction(key: str, value: Any) -> Fraction:
    return Fraction(_finite_decimal(key, value, "a finite number"))


def read_bool(key: str, value: Any) -> bool:
    """DynamoDB BOOL, or the numbers 0/1, or the strings true/false (hand-edited items)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigValueError(f"{key} must be a boolean, got {value!r}")


def read_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigValueError(f"{key} must be a string, got {type(value).__name__}")
    return value


def read_decimal(key: str, value: Any) -> Decimal:
    number = _number(key, value)
    try:
        return Decimal(number)
    except ArithmeticError as exc:
        raise ConfigValueError(f"{key} must be a number, got {value!r}") from exc


Reader = Callable[[str, Any], Any]
