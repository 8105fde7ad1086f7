"""Is a market worth quoting, and is a position healthy? Pure checks with their reasons.

A configured, enabled market is viable when the exchange lists it, it is open, it closes beyond the
close guard, it has a tick grid, and it has a two-sided book or a configured fair value. The first
four depend only on the market's rules and the time, so the loop applies them every cycle without
another read; the book is judged where one was read for the purpose (the calibration steps), while
the strategies refuse a one-sided book on each cycle's fresh one.

A position is flagged when dora does not manage its market (no valid, enabled config), its market
is closed or settling, it is beyond its caps, or it has been held without any reducing fill for
longer than ``stuck_after_ms`` (``opened_ms`` / ``last_reduced_ms``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dora.core.market_config import InvalidMarketConfig, MarketConfig
from dora.core.models import MarketRules, OrderBook, PositionState, TsMs
from dora.core.positions import held_since_ms
from dora.core.timefmt import iso_ms
from dora.core.units import format_count


def market_viability(
    config: MarketConfig, rules: MarketRules | None, book: OrderBook | None, now_ms: TsMs,
    close_guard_ms: int,
) -> str:
    """Why the market is not viable ("" when it is). ``book`` None: the book is not judged."""
    if rules is None:
        return "not_listed: the exchange does not list this market"
    if not rules.status.tradable:
        return f"not_open: status {rules.status.value}"
    left_ms = rules.close_time_ms - now_ms
    if left_ms <= close_guard_ms:
        return (f"closes_within_guard: closes in {max(left_ms, 0) // 1000} s, guard "
                f"{close_guard_ms // 1000} s")
    if not rules.price_ranges:
        return "no_tick_grid: the market lists no price ranges"
    if book is not None and not (book.bids and book.asks) and config.fair_value is None:
        return "no_two_sided_book: one-sided or empty book and no configured fair_value"
    return ""


def viability_by_market(
    configs: Mapping[str, MarketConfig | InvalidMarketConfig], rules: Mapping[str, MarketRules],
    books: Mapping[str, OrderBook] | None, now_ms: TsMs, close_guard_ms: int,
) -> dict[str, str]:
    """Every enabled, valid config's market that is not viable -> why. ``books`` None: no
    market's book is judged; otherwise a market missing from it counts as having none."""
    problems = {}
    for ticker, config in sorted(configs.items()):
        if not isinstance(config, MarketConfig) or not config.enabled:
            continue
        book = None if books is None else books.get(ticker, OrderBook(ticker))
        reason = market_viability(config, rules.get(ticker), book, now_ms, close_guard_ms)
        if reason:
            problems[ticker] = reason
    return problems


@dataclass(frozen=True, slots=True)
class PositionFinding:
    ticker: str
    kind: str  # unmanaged | market_not_open | over_cap | stuck
    detail: str


def portfolio_findings(
    positions: Mapping[str, PositionState],
    configs: Mapping[str, MarketConfig | InvalidMarketConfig], rules: Mapping[str, MarketRules],
    now_ms: TsMs, stuck_after_ms: int,
) -> list[PositionFinding]:
    findings = []
    for ticker, position in sorted(positions.items()):
        if not position.net or position.settled:
            continue
        findings += _position_findings(position, configs.get(ticker), rules.get(ticker), now_ms,
                                       stuck_after_ms)
    return findings


def _position_findings(
    position: PositionState, config: MarketConfig | InvalidMarketConfig | None,
    rules: MarketRules | None, now_ms: TsMs, stuck_after_ms: int,
) -> list[PositionFinding]:
    ticker, net = position.ticker, position.net
    found = []
    if not isinstance(config, MarketConfig) or not config.enabled:
        why = "no config" if config is None else (
            "invalid config" if isinstance(config, InvalidMarketConfig) else "disabled")
        found.append(PositionFinding(ticker, "unmanaged", f"{format_count(net)} held, {why}"))
    if rules is not None and not rules.status.tradable:
        found.append(PositionFinding(ticker, "market_not_open",
                                     f"{format_count(net)} held, status {rules.status.value}"))
    if isinstance(config, MarketConfig):
        cap = config.max_inventory_yes if net > 0 else config.max_inventory_no
        if abs(net) > cap:
            found.append(PositionFinding(ticker, "over_cap",
                                         f"{format_count(net)} held, cap {format_count(cap)}"))
    since = held_since_ms(position)
    if since and now_ms - since > stuck_after_ms:
        found.append(PositionFinding(
            ticker, "stuck", f"{format_count(net)} held {(now_ms - since) // 1000} s without a "
                             f"reducing fill (limit {stuck_after_ms // 1000} s)"))
    return found


@dataclass(frozen=True, slots=True)
class RuleChange:
    field: str  # status | close_time | price_level_structure
    before: str
    after: str


def rule_changes(before: MarketRules, after: MarketRules) -> list[RuleChange]:
    """What changed in a market between two reads of it that changes how dora trades it."""
    changes = []
    if before.status is not after.status:
        changes.append(RuleChange("status", before.status.value, after.status.value))
    if before.close_time_ms != after.close_time_ms:
        changes.append(RuleChange("close_time", iso_ms(before.close_time_ms),
                                  iso_ms(after.close_time_ms)))
    if (before.price_level_structure, before.price_ranges) != (
            after.price_level_structure, after.price_ranges):
        changes.append(RuleChange("price_level_structure", before.price_level_structure,
                                  after.price_level_structure))
    return changes
