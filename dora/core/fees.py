"""Kalshi's quadratic trading fees, in exact integers (docs/kalshi-notes.md#fees). Pure.

taker fee = round_up(0.07   x C x P x (1 - P))
maker fee = round_up(0.0175 x C x P x (1 - P))   (only on markets with maker fees; else 0)

With C = count / 100 contracts and P = price / 10_000 dollars, the fee in micro-dollars is
7 x count x price x (10_000 - price) / 1_000_000 for the taker and a quarter of that for the maker.

The local exchange charges these fees. dora itself books the fee the exchange reports on each fill
and never recomputes it; it uses :func:`taker_fee_bound` only to keep cash aside for an order
that may take liquidity, and :func:`taker_fee` to estimate what closing a position would cost.
"""

from __future__ import annotations

from dora.core.models import Side
from dora.core.units import ONE_DOLLAR, Count, Micros, Price

# Kalshi's fee-rounding doc rounds each trade fee up to $0.0001 and then floors balance changes;
# the "simple view" (docs/kalshi-notes.md#fees) rounds each fee up to the cent. One constant
# decides.
FEE_ROUNDING_UNIT: Micros = 10_000  # one cent
HALF_DOLLAR: Price = ONE_DOLLAR // 2

_TAKER_NUMERATOR = 7
_TAKER_DENOMINATOR = 1_000_000
_MAKER_DENOMINATOR = 4 * _TAKER_DENOMINATOR  # 0.0175 = 0.07 / 4


def _round_up(numerator: int, denominator: int) -> Micros:
    """ceil(numerator / denominator) rounded up to a whole FEE_ROUNDING_UNIT, exactly."""
    unit_denominator = denominator * FEE_ROUNDING_UNIT
    units = -(-numerator // unit_denominator)
    return units * FEE_ROUNDING_UNIT


def _variance_term(count: Count, price: Price) -> int:
    if count < 0 or not 0 <= price <= ONE_DOLLAR:
        raise ValueError(f"fee inputs out of range: count={count} price={price}")
    return _TAKER_NUMERATOR * count * price * (ONE_DOLLAR - price)


def taker_fee(count: Count, price: Price) -> Micros:
    return _round_up(_variance_term(count, price), _TAKER_DENOMINATOR)


def maker_fee(count: Count, price: Price, *, maker_fees: bool) -> Micros:
    if not maker_fees:
        return 0
    return _round_up(_variance_term(count, price), _MAKER_DENOMINATOR)


def taker_fee_bound(side: Side, price: Price, count: Count) -> Micros:
    """The most an order can pay in taker fees: a bid trades at or below its price and an ask at
    or above, and the fee peaks at $0.50. The exchange holds this much cash back when an order
    may take liquidity (not post-only), so fees never overdraw the account."""
    worst = min(price, HALF_DOLLAR) if side is Side.BID else max(price, HALF_DOLLAR)
    return taker_fee(count, worst)
