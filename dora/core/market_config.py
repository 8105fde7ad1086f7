"""Per-market and global configuration: DynamoDB items <-> typed, validated records. Pure.

Field names are the DynamoDB item keys the predecessor bot used. Numbers arrive as
``decimal.Decimal`` from DynamoDB (``int`` or ``str`` are accepted too; ``float`` is refused, it
cannot carry an exact price). A missing field takes the predecessor bot's default (quote_size 10,
min_spread 0.06, max_inventory_yes/no 100, inventory_skew_factor 0.25, enabled False). A malformed
field makes that market's config an :class:`InvalidMarketConfig` with a readable reason; unknown
fields are kept verbatim in ``extra`` and written back by :func:`market_config_to_item`.

The position-closing settings (``stop_loss``, ``take_profit``, ``max_hold_s``,
``close_positions_before_s``, ``urgent_before_s``, ``close_max_slippage``, ``close_on_disable``)
and ``strategy`` are optional per market: unset, the global config's value of the same name
applies (:mod:`dora.core.exit_policy` resolves them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any

from dora.core.config_values import (
    ConfigValueError,
    Reader,
    read_bool,
    read_count,
    read_decimal,
    read_fraction,
    read_int,
    read_micros,
    read_price,
    read_str,
)
from dora.core.units import (
    ONE_DOLLAR,
    Count,
    Micros,
    Price,
    count_to_decimal,
    micros_to_decimal,
    price_to_decimal,
)

FAIR_VALUE_SOURCES = ("trades", "microprice", "mid")
MAX_LEVELS = 20
DEFAULT_STRATEGY = "classic"
# The deterministic orders in which dora quotes the markets it can afford (dora.core.cash_plan).
CASH_PRIORITIES = ("smallest_first", "ticker")
STRATEGY_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class MarketConfig:
    market_id: str
    enabled: bool = False
    quote_size: Count = 1_000
    min_spread: Price = 600
    max_inventory_yes: Count = 10_000
    max_inventory_no: Count = 10_000
    inventory_skew_factor: Fraction = Fraction(1, 4)
    fair_value: Price | None = None
    toxicity_score: Decimal | None = None
    event_ticker: str = ""
    levels: int = 1
    level_spacing_ticks: int = 1
    fair_value_source: str = "trades"
    tight_book_spread: Price = 600
    volatility_gate: bool = True
    stop_loss: Micros | None = None
    take_profit: Micros | None = None
    max_hold_s: int | None = None
    close_positions_before_s: int | None = None
    urgent_before_s: int | None = None
    close_max_slippage: Price | None = None
    close_on_disable: bool | None = None
    strategy: str | None = None
    shard: int | None = None  # the shard that quotes it (0-based); None: by the ticker's hash
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = _market_problem(self)
        if problem:
            raise ConfigValueError(problem)


def _market_problem(c: MarketConfig) -> str:
    checks: tuple[tuple[bool, str], ...] = (
        (bool(c.market_id), "market_id is empty"),
        (c.quote_size >= 0, "quote_size is negative"),
        (0 < c.min_spread < ONE_DOLLAR, "min_spread must be > 0 and < 1"),
        (c.max_inventory_yes >= 0, "max_inventory_yes is negative"),
        (c.max_inventory_no >= 0, "max_inventory_no is negative"),
        (c.inventory_skew_factor >= 0, "inventory_skew_factor is negative"),
        (c.fair_value is None or 0 < c.fair_value < ONE_DOLLAR, "fair_value must be in (0, 1)"),
        (1 <= c.levels <= MAX_LEVELS, f"levels must be between 1 and {MAX_LEVELS}"),
        (c.level_spacing_ticks >= 1, "level_spacing_ticks must be >= 1"),
        (c.fair_value_source in FAIR_VALUE_SOURCES,
         f"fair_value_source must be one of {', '.join(FAIR_VALUE_SOURCES)}"),
        (0 <= c.tight_book_spread < ONE_DOLLAR, "tight_book_spread must be >= 0 and < 1"),
        *_exit_checks(c),
        (c.shard is None or c.shard >= 0, "shard must be >= 0"),
    )
    return next((message for ok, message in checks if not ok), "")


def _exit_checks(c: MarketConfig | GlobalConfig) -> tuple[tuple[bool, str], ...]:
    """The closing settings and ``strategy``, shared by the market and the global config."""
    return (
        (c.stop_loss is None or c.stop_loss > 0, "stop_loss must be > 0 dollars"),
        (c.take_profit is None or c.take_profit > 0, "take_profit must be > 0 dollars"),
        (c.max_hold_s is None or c.max_hold_s > 0, "max_hold_s must be > 0"),
        (c.close_positions_before_s is None or c.close_positions_before_s >= 0,
         "close_positions_before_s must be >= 0"),
        (c.urgent_before_s is None or c.urgent_before_s >= 0, "urgent_before_s must be >= 0"),
        (c.close_max_slippage is None or 0 <= c.close_max_slippage < ONE_DOLLAR,
         "close_max_slippage must be >= 0 and < 1"),
        (c.strategy is None or bool(STRATEGY_NAME.match(c.strategy)),
         "strategy must be 1-64 letters, digits, '_', '.' or '-'"),
    )


@dataclass(frozen=True, slots=True)
class InvalidMarketConfig:
    market_id: str
    reason: str
    raw: Mapping[str, Any]


_MARKET_READERS: dict[str, Reader] = {
    "enabled": read_bool,
    "quote_size": read_count,
    "min_spread": read_price,
    "max_inventory_yes": read_count,
    "max_inventory_no": read_count,
    "inventory_skew_factor": read_fraction,
    "fair_value": read_price,
    "toxicity_score": read_decimal,
    "event_ticker": read_str,
    "levels": read_int,
    "level_spacing_ticks": read_int,
    "fair_value_source": read_str,
    "tight_book_spread": read_price,
    "volatility_gate": read_bool,
    "shard": read_int,
}
# The closing settings and the strategy: per market, or as the global default.
_EXIT_READERS: dict[str, Reader] = {
    "stop_loss": read_micros,
    "take_profit": read_micros,
    "max_hold_s": read_int,
    "close_positions_before_s": read_int,
    "urgent_before_s": read_int,
    "close_max_slippage": read_price,
    "close_on_disable": read_bool,
    "strategy": read_str,
}
_MARKET_READERS.update(_EXIT_READERS)
# Fields where an explicit DynamoDB NULL (or no value) means "not set".
OPTIONAL_MARKET_FIELDS = frozenset({"fair_value", "toxicity_score", "event_ticker", "shard",
                                    *_EXIT_READERS})
_NULLABLE = OPTIONAL_MARKET_FIELDS


def parse_market_config(item: Mapping[str, Any]) -> MarketConfig | InvalidMarketConfig:
    """One ``dora_market_config`` item -> a MarketConfig, or the reason it cannot be used."""
    raw_id = item.get("market_id")
    market_id = raw_id if isinstance(raw_id, str) else ""
    if not market_id:
        return InvalidMarketConfig(market_id, "market_id is missing or not a string", dict(item))
    try:
        known = _read_fields(item, _MARKET_READERS)
        extra = {k: v for k, v in item.items() if k not in _MARKET_READERS and k != "market_id"}
        return MarketConfig(market_id=market_id, extra=extra, **known)
    except ConfigValueError as exc:
        return InvalidMarketConfig(market_id, str(exc), dict(item))


def _read_fields(item: Mapping[str, Any], readers: Mapping[str, Reader]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, reader in readers.items():
        if key not in item:
            continue
        value = item[key]
        if value is None and key in _NULLABLE:
            continue
        if value is None:
            raise ConfigValueError(f"{key} is null")
        values[key] = reader(key, value)
    return values


def market_config_to_item(config: MarketConfig) -> dict[str, Any]:
    """A MarketConfig -> a DynamoDB item (Decimals); unknown fields are written back unchanged."""
    item: dict[str, Any] = dict(config.extra)
    item.update(
        market_id=config.market_id,
        enabled=config.enabled,
        quote_size=count_to_decimal(config.quote_size),
        min_spread=price_to_decimal(config.min_spread),
        max_inventory_yes=count_to_decimal(config.max_inventory_yes),
        max_inventory_no=count_to_decimal(config.max_inventory_no),
        inventory_skew_factor=_fraction_to_decimal(config.inventory_skew_factor),
        levels=Decimal(config.levels),
        level_spacing_ticks=Decimal(config.level_spacing_ticks),
        fair_value_source=config.fair_value_source,
        tight_book_spread=price_to_decimal(config.tight_book_spread),
        volatility_gate=config.volatility_gate,
    )
    if config.fair_value is not None:
        item["fair_value"] = price_to_decimal(config.fair_value)
    if config.toxicity_score is not None:
        item["toxicity_score"] = config.toxicity_score
    if config.event_ticker:
        item["event_ticker"] = config.event_ticker
    item.update(_exit_items(config))
    if config.shard is not None:
        item["shard"] = Decimal(config.shard)
    return item


def _exit_items(config: MarketConfig | GlobalConfig) -> dict[str, Any]:
    """The closing settings and ``strategy`` that are set, as DynamoDB values."""
    writers: dict[str, Callable[[Any], Any]] = {
        "stop_loss": micros_to_decimal, "take_profit": micros_to_decimal,
        "max_hold_s": Decimal, "close_positions_before_s": Decimal,
        "urgent_before_s": Decimal, "close_max_slippage": price_to_decimal,
        "close_on_disable": bool, "strategy": str,
    }
    item: dict[str, Any] = {}
    for name, write in writers.items():
        value = getattr(config, name)
        if value is not None:
            item[name] = write(value)
    return item


def _fraction_to_decimal(value: Fraction) -> Decimal:
    """Exact when the fraction came from a decimal (its denominator divides a power of ten)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(exact) != value:
        raise ValueError(f"{value} has no exact decimal form")
    return exact


# -- global config ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    """``dora_state`` item ``key=global_config``. Defaults are the predecessor's where it had the
    key (max_total_exposure 500 contracts, max_daily_loss $100, loop 5000 ms, trading_enabled,
    cancel_on_startup); ``use_batch_execution`` absent -> None (the CLI decides)."""

    max_total_exposure: Count = 50_000
    max_daily_loss: Micros = 100_000_000
    trading_enabled: bool = True
    loop_interval_ms: int = 5000
    cancel_on_startup: bool = True
    use_batch_execution: bool | None = None
    config_refresh_cycles: int = 5
    close_guard_ms: int = 600_000
    daily_reset_hour_utc: int = 0
    max_consecutive_errors: int = 10
    stop_loss: Micros | None = None
    take_profit: Micros | None = None
    max_hold_s: int | None = None
    close_positions_before_s: int | None = None  # None: as long as the close guard
    urgent_before_s: int = 120
    close_max_slippage: Price = 500
    close_on_disable: bool = False
    min_cash_reserve: Micros = 0
    strategy: str = DEFAULT_STRATEGY
    # one execution-log row per order (the earlier bot's dashboard reads those) instead of one per
    # batch request (docs/compatibility.md#execution-log)
    execution_log_per_order: bool = False
    # the trader's lifecycle (dora.bot.lifecycle): recalibration, breakers, health checks
    recalibrate_every_s: int = 60
    breaker_failures: int = 5
    breaker_cooloff_s: int = 30
    breaker_cooloff_max_s: int = 900
    stuck_after_s: int = 14_400
    cash_priority: str = CASH_PRIORITIES[0]
    # one active instance per shard (docs/architecture.md#lease) and its order group
    shards: int | None = None  # how many shards; DORA_SHARDS or --shards win over it
    lease_duration_ms: int = 20_000
    max_matched_contracts_15s: Count | None = None  # None: sized from the markets' caps
    order_group_reset: str = "auto"  # auto | manual (dora.core.order_groups.ResetPolicy)
    order_group_cooloff_s: int = 60
    # creates still waiting for write tokens this long after the cycle's reads were sent are left
    # to the next cycle (docs/architecture.md#concurrency-inside-a-phase)
    max_plan_age_ms: int = 10_000
    extra: Mapping[str, Any] = field(default_factory=dict)


_GLOBAL_READERS: dict[str, Reader] = {
    "max_total_exposure": read_count,
    "max_daily_loss": read_micros,
    "trading_enabled": read_bool,
    "loop_interval_ms": read_int,
    "cancel_on_startup": read_bool,
    "use_batch_execution": read_bool,
    "config_refresh_cycles": read_int,
    "close_guard_ms": read_int,
    "daily_reset_hour_utc": read_int,
    "max_consecutive_errors": read_int,
    **_EXIT_READERS,
    "min_cash_reserve": read_micros,
    "execution_log_per_order": read_bool,
    "recalibrate_every_s": read_int,
    "breaker_failures": read_int,
    "breaker_cooloff_s": read_int,
    "breaker_cooloff_max_s": read_int,
    "stuck_after_s": read_int,
    "cash_priority": read_str,
    "shards": read_int,
    "lease_duration_ms": read_int,
    "max_matched_contracts_15s": read_count,
    "order_group_reset": read_str,
    "order_group_cooloff_s": read_int,
    "max_plan_age_ms": read_int,
}
# Keys whose explicit null means "not set" (the default applies, no problem reported).
_GLOBAL_NULLABLE = frozenset({
    "use_batch_execution", "stop_loss", "take_profit", "max_hold_s", "close_positions_before_s",
    "shards", "max_matched_contracts_15s",
})
_GLOBAL_LIMITS: dict[str, tuple[int, int | None]] = {  # inclusive lower, optional upper bound
    "max_total_exposure": (0, None),
    "max_daily_loss": (0, None),
    "loop_interval_ms": (0, None),
    "config_refresh_cycles": (1, None),
    "close_guard_ms": (0, None),
    "daily_reset_hour_utc": (0, 23),
    "max_consecutive_errors": (1, None),
    "stop_loss": (1, None),
    "take_profit": (1, None),
    "max_hold_s": (1, None),
    "close_positions_before_s": (0, None),
    "urgent_before_s": (0, None),
    "close_max_slippage": (0, ONE_DOLLAR - 1),
    "min_cash_reserve": (0, None),
    "recalibrate_every_s": (1, None),
    "breaker_failures": (1, None),
    "breaker_cooloff_s": (1, None),
    "breaker_cooloff_max_s": (1, None),
    "stuck_after_s": (1, None),
    "shards": (1, 16),
    "lease_duration_ms": (2_000, 120_000),
    "max_matched_contracts_15s": (100, None),
    "order_group_cooloff_s": (15, None),
    "max_plan_age_ms": (1_000, None),
}
_GROUP_RESET_POLICIES = ("auto", "manual")


# Where a malformed value falls when the key guards risk: the reading that allows the least.
_FAIL_SAFE: dict[str, tuple[Any, str]] = {
    "trading_enabled": (False, "no new orders"),
    "max_total_exposure": (0, "no new exposure"),
    "max_daily_loss": (0, "halt on any loss"),
    "order_group_reset": ("manual", "a triggered group stays closed until `dora groups reset`"),
}


def parse_global_config(item: Mapping[str, Any] | None) -> tuple[GlobalConfig, list[str]]:
    """The global item -> GlobalConfig plus one problem per malformed key.

    A missing key takes its default. A malformed key (wrong type, null, out of range) is reported
    and fails safe, because the item is edited by hand and by other tools, and a typo must never
    loosen risk: ``trading_enabled`` reads as False, and the risk limits ``max_total_exposure``
    and ``max_daily_loss`` read as 0, which refuses any new exposure and halts on any loss.
    Every other malformed key keeps its default: ``cancel_on_startup``'s (True) is already the
    safe side; ``close_guard_ms`` and ``max_consecutive_errors`` keep the predecessor's protective
    defaults rather than an extreme (never quote; a lasting halt on the first transient error);
    the rest set pacing, execution mode or the day boundary, not how much risk is allowed.
    """
    if item is None:
        return GlobalConfig(), []
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, reader in _GLOBAL_READERS.items():
        if key not in item or (item[key] is None and key in _GLOBAL_NULLABLE):
            continue
        try:
            value = reader(key, item[key])
            _check_global_limit(key, value)
        except ConfigValueError as exc:
            if key in _FAIL_SAFE:
                values[key], meaning = _FAIL_SAFE[key]
                problems.append(f"{exc}; using {values[key]} ({meaning})")
            else:
                problems.append(f"{exc}; using the default")
            continue
        values[key] = value
    _check_breaker_cooloffs(values, problems)
    extra = {k: v for k, v in item.items() if k not in _GLOBAL_READERS}
    return GlobalConfig(extra=extra, **values), problems


def _check_breaker_cooloffs(values: dict[str, Any], problems: list[str]) -> None:
    """The longest cool-off cannot be shorter than the first: both fall back to the defaults."""
    defaults = GlobalConfig()
    first = values.get("breaker_cooloff_s", defaults.breaker_cooloff_s)
    longest = values.get("breaker_cooloff_max_s", defaults.breaker_cooloff_max_s)
    if longest < first:
        values.pop("breaker_cooloff_s", None)
        values.pop("breaker_cooloff_max_s", None)
        problems.append(f"breaker_cooloff_max_s {longest} is below breaker_cooloff_s {first}; "
                        f"using the defaults for both")


def _check_global_limit(key: str, value: Any) -> None:
    if key == "strategy" and not STRATEGY_NAME.match(value):
        raise ConfigValueError(f"strategy {value!r} must be 1-64 letters, digits, '_', '.' or '-'")
    if key == "cash_priority" and value not in CASH_PRIORITIES:
        allowed = ", ".join(CASH_PRIORITIES)
        raise ConfigValueError(f"cash_priority {value!r} is not one of {allowed}")
    if key == "order_group_reset" and value not in _GROUP_RESET_POLICIES:
        raise ConfigValueError(
            f"order_group_reset must be one of {', '.join(_GROUP_RESET_POLICIES)}, got {value!r}")
    if key not in _GLOBAL_LIMITS:
        return
    low, high = _GLOBAL_LIMITS[key]
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigValueError(f"{key} must be {bound}, got {value}")


def global_config_to_item(config: GlobalConfig) -> dict[str, Any]:
    item: dict[str, Any] = dict(config.extra)
    exits = _exit_items(config)
    for f in fields(config):
        if f.name == "extra":
            continue
        value = getattr(config, f.name)
        if f.name in _EXIT_READERS:
            if f.name in exits:
                item[f.name] = exits[f.name]
        elif f.name in ("max_total_exposure", "max_matched_contracts_15s"):
            if value is not None:
                item[f.name] = count_to_decimal(value)
        elif f.name in ("max_daily_loss", "min_cash_reserve"):
            item[f.name] = micros_to_decimal(value)
        elif isinstance(value, bool | str) or value is None:
            if value is not None:
                item[f.name] = value
        else:
            item[f.name] = Decimal(value)
    return item
