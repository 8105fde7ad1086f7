"""Exact money and quantity units, and Kalshi's fixed-point strings.

Every amount inside dora is an ``int`` at a fixed scale, declared here once:

- ``Price``: units of $0.0001 (``"0.5600"`` -> 5600). A binary contract trades in (0, 10_000).
- ``Count``: hundredths of a contract (``"10.00"`` -> 1000).
- ``Micros``: cash, fees and notional in micro-dollars (``"0.017500"`` -> 17_500).

A price times a count is exactly micro-dollars: (1e-4 $) x (1e-2 contract) = 1e-6 $.
Decimal strings are parsed and formatted only at the wire or storage boundary.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

Price: TypeAlias = int
Count: TypeAlias = int
Micros: TypeAlias = int

PRICE_DIGITS = 4
COUNT_DIGITS = 2
MICROS_DIGITS = 6

PRICE_SCALE: int = 10_000
COUNT_SCALE: int = 100
MICROS_SCALE: int = 1_000_000

ONE_DOLLAR: Price = PRICE_SCALE
ONE_CONTRACT: Count = COUNT_SCALE


class UnitError(ValueError):
    """A decimal string or number that cannot be represented exactly at its scale."""


def parse_fixed(text: str, digits: int) -> int:
    """Parse a plain decimal string into an int scaled by 10**digits, exactly.

    Extra fractional digits are accepted only when they are zeros ("0.560000" at 4 digits).
    """
    if not isinstance(text, str):
        raise UnitError(f"expected a decimal string, got {type(text).__name__}")
    raw = text.strip()
    negative = raw.startswith("-")
    body = raw[1:] if negative or raw.startswith("+") else raw
    whole, dot, frac = body.partition(".")
    if not whole and not frac:
        raise UnitError(f"not a decimal number: {text!r}")
    if not _ascii_digits(whole or "0") or (dot and frac and not _ascii_digits(frac)):
        raise UnitError(f"not a decimal number: {text!r}")
    kept, extra = frac[:digits], frac[digits:]
    if extra.strip("0"):
        raise UnitError(f"{text!r} has more than {digits} decimal places")
    value: int = int(whole or "0") * _pow10(digits) + int(kept.ljust(digits, "0") or "0")
    return -value if negative else value


def format_fixed(value: int, digits: int) -> str:
    """Format a scaled int as a decimal string with exactly ``digits`` decimals."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), _pow10(digits))
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit alone admits "٣" and "²"


def _pow10(digits: int) -> int:
    return int(10**digits)


def parse_price(text: str) -> Price:
    """Kalshi dollar price string -> Price (units of $0.0001)."""
    return parse_fixed(text, PRICE_DIGITS)


def format_price(price: Price) -> str:
    """Price -> Kalshi dollar string with 4 decimals ("0.5600")."""
    return format_fixed(price, PRICE_DIGITS)


def parse_count(text: str) -> Count:
    """Kalshi fixed-point count string -> Count (hundredths of a contract)."""
    return parse_fixed(text, COUNT_DIGITS)


def format_count(count: Count) -> str:
    """Count -> Kalshi fixed-point string with 2 decimals ("10.00")."""
    return format_fixed(count, COUNT_DIGITS)


def parse_micros(text: str) -> Micros:
    """Dollar amount string (up to 6 decimals) -> micro-dollars."""
    return parse_fixed(text, MICROS_DIGITS)


def format_micros(amount: Micros) -> str:
    """Micro-dollars -> dollar string with 6 decimals."""
    return format_fixed(amount, MICROS_DIGITS)


def format_dollars(amount: Micros) -> str:
    """Micro-dollars -> dollars with cents for people to read ("-$1.24"): rounded half away
    from zero, so a loss never shows smaller than it is. Exact figures use format_micros."""
    cents, rest = divmod(abs(amount), MICROS_SCALE // 100)
    cents += 1 if 2 * rest >= MICROS_SCALE // 100 else 0
    whole, frac = divmod(cents, 100)
    sign = "-" if amount < 0 and cents else ""
    return f"{sign}${whole:,}.{frac:02d}"


def notional(price: Price, count: Count) -> Micros:
    """Cash for ``count`` contracts at ``price``: exact, because the scales multiply to micros."""
    return price * count


def cents_to_micros(cents: int) -> Micros:
    return cents * (MICROS_SCALE // 100)


def micros_to_cents_floor(amount: Micros) -> int:
    return amount // (MICROS_SCALE // 100)


def dollars_decimal_to_price(value: Decimal | int | str) -> Price:
    """A config value in dollars (Decimal from DynamoDB, or a string) -> Price, exactly."""
    return parse_price(_plain_decimal(value))


def dollars_decimal_to_micros(value: Decimal | int | str) -> Micros:
    return parse_micros(_plain_decimal(value))


def contracts_decimal_to_count(value: Decimal | int | str) -> Count:
    return parse_count(_plain_decimal(value))


def price_to_decimal(price: Price) -> Decimal:
    return Decimal(format_price(price))


def count_to_decimal(count: Count) -> Decimal:
    return Decimal(format_count(count))


def micros_to_decimal(amount: Micros) -> Decimal:
    return Decimal(format_micros(amount))


def _plain_decimal(value: Decimal | int | str) -> str:
    if isinstance(value, bool):
        raise UnitError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnitError(f"not a finite number: {value}")
        return format(value, "f")
    if isinstance(value, str):
        return value
    raise UnitError(f"expected a number, got {type(value).__name__}")
