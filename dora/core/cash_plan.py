"""Can dora afford to quote every viable market, and if not, which ones? Pure.

Each market needs the collateral of a full two-sided quote at its configured size (``quote_size``
on each of ``levels`` levels per side): a bid holds its price per contract, an ask one dollar minus
its price, and a position covers the orders that would close it
(:func:`dora.core.ledger.collateral`, the rule the risk checks use). Prices are the book's best
bid and ask, else the configured fair value on both sides, else half a dollar on both sides (a
two-sided contract then needs one dollar, the most it can need, since a bid is never above its
ask).

The budget is the ledger's free cash, plus what dora's own resting orders hold now (dora frees it
by cancelling them), less ``min_cash_reserve``. When the markets need more than that, dora quotes
the ones it can afford in a stated, deterministic order (:data:`CASH_PRIORITIES`):

- ``smallest_first`` (the default): the markets needing the least collateral first, ties by
  ticker; most markets quoted per dollar, and a market whose position covers one side comes early;
- ``ticker``: alphabetical.

Going down the order, each market that fits in what is left is taken; one that does not is
skipped and the next is tried. The rest are not quoted until a later check finds the cash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dora.core.ledger import collateral
from dora.core.market_config import CASH_PRIORITIES, MarketConfig
from dora.core.models import OrderBook
from dora.core.units import ONE_DOLLAR, Count, Micros, Price, format_micros

__all__ = ["CASH_PRIORITIES", "CashPlan", "effective_reserve", "plan_cash", "quote_collateral",
           "quote_prices"]


def effective_reserve(reserve: Micros, account_value: Micros) -> tuple[Micros, str]:
    """``min_cash_reserve`` as dora applies it, and why when it differs. A reserve above the
    whole account's value (balance and portfolio) can never be met: it would make dora close
    every position for cash. It falls back to its default, 0, until lowered."""
    if reserve <= account_value:
        return reserve, ""
    return 0, (f"min_cash_reserve ${format_micros(reserve)} is above the account's value "
               f"${format_micros(account_value)}; using the default $0 until it is lowered")


def quote_prices(config: MarketConfig, book: OrderBook | None) -> tuple[Price, Price]:
    """(bid, ask) prices to size a full quote at."""
    if book is not None and book.bids and book.asks:
        return book.bids[0].price, book.asks[0].price
    middle = config.fair_value if config.fair_value is not None else ONE_DOLLAR // 2
    return middle, middle


def quote_collateral(config: MarketConfig, book: OrderBook | None, net: Count) -> Micros:
    """Cash a full two-sided quote of the market holds, given the position there."""
    size = config.quote_size * config.levels
    if size <= 0:
        return 0
    bid, ask = quote_prices(config, book)
    return collateral(net, [(bid, size)], [(ask, size)])


@dataclass(frozen=True, slots=True)
class CashPlan:
    budget: Micros  # free + held by dora's own orders - reserve (may be negative)
    needed: Micros  # what every market together needs
    priority: str
    affordable: tuple[str, ...]  # in the priority order
    unaffordable: tuple[str, ...]

    @property
    def sufficient(self) -> bool:
        return not self.unaffordable


def plan_cash(needs: Mapping[str, Micros], budget: Micros, priority: str) -> CashPlan:
    """Which markets to quote with ``budget`` (see the module docstring)."""
    if priority not in CASH_PRIORITIES:
        raise ValueError(f"unknown cash priority {priority!r}; one of {CASH_PRIORITIES}")
    by_need = sorted(needs, key=lambda t: (needs[t], t))
    order = sorted(needs) if priority == "ticker" else by_need
    left = budget
    taken: list[str] = []
    skipped: list[str] = []
    for ticker in order:
        if needs[ticker] <= left:
            taken.append(ticker)
            left -= needs[ticker]
        else:
            skipped.append(ticker)
    return CashPlan(budget, sum(needs.values()), priority, tuple(taken), tuple(skipped))
