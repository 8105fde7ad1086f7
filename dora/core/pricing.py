"""Quote prices and sizes of the classic strategy, in exact integer units. Pure.

Price pipeline (each side keeps the name of the rule that last set its price):

1. base: one tick inside the touch (``inside_touch``), or the touch itself (``at_touch``) when
   the book spread is under ``tight_book_spread`` or one tick inside would lock the book. A side
   with no touch (one-sided or empty book, fair value configured) starts at FV -/+ min_spread/2
   (``fv_half_spread``).
2. skew: both prices minus the skew; the bid never goes below the best bid nor the ask above the
   best ask (``at_touch`` when that limit applies), so skew only makes a quote more aggressive.
3. ``fv_cap``: bid <= FV <= ask.
4. ``min_spread_one_sided``: if ask - bid < min_spread only the reducing side stays (short: bid at
   min(base bid, FV); long: ask at max(base ask, FV)); flat: nothing.
5. snap to the market's grid: bids down, asks up (a fractional skew: bids floor, asks ceil).
6. ``post_only_guard``: a bid at/above the best ask moves one tick under it (asks likewise).

The predecessor's last resort "if still crossed, FV -/+ min_spread/2" cannot fire here: after
steps 3-4 two quotes are at least min_spread apart, a lone reducing quote comes from its base
price (which never crosses the opposite best when that side has a touch), and a side without a
touch already starts at FV -/+ min_spread/2. A lone quote that would still take liquidity is
handled by the post-only guard.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from dora.core.grid import snap_down, snap_up, ticks_above, ticks_below
from dora.core.market_config import MarketConfig
from dora.core.models import Side
from dora.core.units import ONE_CONTRACT, Count, Price

Quote = tuple[Price, str]  # (price, rule)


class Skew(NamedTuple):
    """An exact rational number of Price units, positive when long (it lowers both prices)."""

    numerator: int
    denominator: int

    def as_fraction(self) -> Fraction:
        return Fraction(self.numerator, self.denominator) if self.numerator else _ZERO


_ZERO = Fraction(0)
NO_SKEW = Skew(0, 1)


class PriceInputs(NamedTuple):  # a parameter bundle for one call, not a domain record
    grid: tuple[Price, ...]
    best_bid: Price | None
    best_ask: Price | None
    fair_value: Price
    skew: Skew
    min_spread: Price
    tight_book_spread: Price
    net: Count


class SidePrices(NamedTuple):
    bid: Quote | None
    ask: Quote | None
    flat_below_min_spread: bool = False


def compute_skew(config: MarketConfig, net: Count) -> Skew:
    """clamp(net / cap of its side, -1, 1) * inventory_skew_factor * min_spread, in Price units."""
    factor = config.inventory_skew_factor
    if net == 0 or factor == 0:
        return NO_SKEW
    cap = config.max_inventory_yes if net > 0 else config.max_inventory_no
    if abs(net) >= cap:
        sign = 1 if net > 0 else -1
        return Skew(sign * factor.numerator * config.min_spread, factor.denominator)
    return Skew(net * factor.numerator * config.min_spread, cap * factor.denominator)


def quote_prices(p: PriceInputs) -> SidePrices:
    bid_base, ask_base = _bid_base(p), _ask_base(p)
    bid, ask = _apply_skew(p, bid_base, ask_base)
    if bid[0] > p.fair_value:
        bid = (p.fair_value, "fv_cap")
    if ask[0] < p.fair_value:
        ask = (p.fair_value, "fv_cap")
    sides: tuple[Quote | None, Quote | None] = (bid, ask)
    if ask[0] - bid[0] < p.min_spread:
        if p.net == 0:
            return SidePrices(None, None, flat_below_min_spread=True)
        sides = _reducing_side_only(p, bid_base, ask_base)
    return SidePrices(_finish_bid(p, sides[0]), _finish_ask(p, sides[1]))


def _fv_low(p: PriceInputs) -> Price:
    return (2 * p.fair_value - p.min_spread) // 2


def _fv_high(p: PriceInputs) -> Price:
    return -((-(2 * p.fair_value + p.min_spread)) // 2)


def _tight(p: PriceInputs) -> bool:
    return (
        p.best_bid is not None
        and p.best_ask is not None
        and p.best_ask - p.best_bid < p.tight_book_spread
    )


def _bid_base(p: PriceInputs) -> Quote:
    if p.best_bid is None:
        return (_fv_low(p), "fv_half_spread")
    if not _tight(p):
        inside = ticks_above(p.grid, p.best_bid)
        if inside is not None and (p.best_ask is None or inside < p.best_ask):
            return (inside, "inside_touch")
    return (p.best_bid, "at_touch")


def _ask_base(p: PriceInputs) -> Quote:
    if p.best_ask is None:
        return (_fv_high(p), "fv_half_spread")
    if not _tight(p):
        inside = ticks_below(p.grid, p.best_ask)
        if inside is not None and (p.best_bid is None or inside > p.best_bid):
            return (inside, "inside_touch")
    return (p.best_ask, "at_touch")


def _apply_skew(p: PriceInputs, bid: Quote, ask: Quote) -> tuple[Quote, Quote]:
    num, den = p.skew
    if num == 0:
        return bid, ask
    skew_ceil = -((-num) // den)
    skew_floor = num // den
    bid_price = bid[0] - skew_ceil
    ask_price = ask[0] - skew_floor
    bid_rule, ask_rule = bid[1], ask[1]
    if p.best_bid is not None and bid_price <= p.best_bid:
        bid_price, bid_rule = p.best_bid, "at_touch"
    if p.best_ask is not None and ask_price >= p.best_ask:
        ask_price, ask_rule = p.best_ask, "at_touch"
    return (bid_price, bid_rule), (ask_price, ask_rule)


def _reducing_side_only(
    p: PriceInputs, bid_base: Quote, ask_base: Quote
) -> tuple[Quote | None, Quote | None]:
    if p.net < 0:
        return (min(bid_base[0], p.fair_value), "min_spread_one_sided"), None
    return None, (max(ask_base[0], p.fair_value), "min_spread_one_sided")


def _finish_bid(p: PriceInputs, bid: Quote | None) -> Quote | None:
    if bid is None:
        return None
    snapped = snap_down(p.grid, bid[0])
    if snapped is None:
        return None
    if p.best_ask is not None and snapped >= p.best_ask:
        guarded = ticks_below(p.grid, p.best_ask)
        return None if guarded is None else (guarded, "post_only_guard")
    return (snapped, bid[1])


def _finish_ask(p: PriceInputs, ask: Quote | None) -> Quote | None:
    if ask is None:
        return None
    snapped = snap_up(p.grid, ask[0])
    if snapped is None:
        return None
    if p.best_bid is not None and snapped <= p.best_bid:
        guarded = ticks_above(p.grid, p.best_bid)
        return None if guarded is None else (guarded, "post_only_guard")
    return (snapped, ask[1])


# -- sizes -----------------------------------------------------------------------------------------


def adds_inventory(side: Side, net: Count) -> bool:
    return net * side.sign >= 0


def side_sizes(config: MarketConfig, side: Side, net: Count, fractional: bool) -> list[Count]:
    """Size per level for one side (normal mode); zeros are kept so level numbers stay stable.

    Adding side: quote_size per level, tapering linearly to 0 between 80% and 100% of the cap of
    that side, and in total never more than the room left under the cap. Reducing side: level 0
    offers at least the whole position; in total at most the position plus the opposite cap.
    """
    cap = config.max_inventory_yes if side is Side.BID else config.max_inventory_no
    held = abs(net)
    quote_size, levels = config.quote_size, config.levels
    if net == 0 and quote_size * levels <= cap and (fractional or quote_size % ONE_CONTRACT == 0):
        return [quote_size] * levels  # flat and well inside the cap: the common case, fast
    if adds_inventory(side, net):
        first = per_level = tapered_size(config.quote_size, held, cap)
        room = max(cap - held, 0)
    else:
        first, per_level = max(config.quote_size, held), config.quote_size
        room = held + cap
    sizes: list[Count] = []
    for level in range(config.levels):
        size = min(first if level == 0 else per_level, room)
        if not fractional:
            size -= size % ONE_CONTRACT
        sizes.append(size)
        room -= size
    return sizes


def tapered_size(quote_size: Count, held: Count, cap: Count) -> Count:
    if held >= cap:
        return 0
    if 5 * held <= 4 * cap:
        return quote_size
    return quote_size * (cap - held) * 5 // cap


def exit_size(net: Count, fractional: bool) -> Count:
    size = abs(net)
    return size if fractional else size - size % ONE_CONTRACT
