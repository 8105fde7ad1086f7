"""Per-market and global configuration: DynamoDB items <-> typed, validated records. Pure.

Field names are the DynamoDB item keys the predecessor bot used. Numbers arrive as
``decimal.Decimal`` from DynamoDB (``int`` or ``str`` are accepted too; ``float`` is refused, it
cannot carry an exact price). A missing field takes the predecessor bot's default (quote_size 10,
min_spread 0.06, max_inventory_yes/no 100, inventory_skew_factor 0.25, enabled False). A malformed
field makes that market's config an :class:`InvalidMarketConfig` with a readable reason; unknown
fields are kept verbatim in ``extra`` and written back by :func:`market_config_to_item`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any

from dora.core.units import (
    ONE_DOLLAR,
    Count,
    Micros,
    Price,
    UnitError,
    contracts_decimal_to_count,
    count_to_decimal,
    dollars_decimal_to_micros,
    dollars_decimal_to_price,
    micros_to_decimal,
    price_to_decimal,
)

FAIR_VALUE_SOURCES = ("trades", "microprice", "mid")
MAX_LEVELS = 20


class ConfigValueError(ValueError):
    """One field of a config item is malformed; the message names the field and the problem."""


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
        (c.shard is None or c.shard >= 0, "shard must be >= 0"),
    )
    return next((message for ok, message in checks if not ok), "")


@dataclass(frozen=True, slots=True)
class InvalidMarketConfig:
    market_id: str
    reason: str
    raw: Mapping[str, Any]


# -- value readers: each raises ConfigValueError naming the field --------------------------------


def _number(key: str, value: Any) -> Decimal | int | str:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ConfigValueError(f"{key} must be a number, got {type(value).__name__}")
    return value


def _read_units(key: str, value: Any, convert: Callable[[Decimal | int | str], int]) -> int:
    try:
        return convert(_number(key, value))
    except UnitError as exc:
        raise ConfigValueError(f"{key}: {exc}") from exc


def _read_price(key: str, value: Any) -> Price:
    return _read_units(key, value, dollars_decimal_to_price)


def _read_count(key: str, value: Any) -> Count:
    return _read_units(key, value, contracts_decimal_to_count)


def _read_micros(key: str, value: Any) -> Micros:
    return _read_units(key, value, dollars_decimal_to_micros)


def _read_int(key: str, value: Any) -> int:
    number = _number(key, value)
    try:
        exact = Decimal(number)
    except ArithmeticError as exc:
        raise ConfigValueError(f"{key} must be an integer, got {value!r}") from exc
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise ConfigValueError(f"{key} must be an integer, got {value!r}")
    return int(exact)


def _read_fraction(key: str, value: Any) -> Fraction:
    number = _number(key, value)
    try:
        exact = Decimal(number)
    except ArithmeticError as exc:
        raise ConfigValueError(f"{key} must be a number, got {value!r}") from exc
    if not exact.is_finite():
        raise ConfigValueError(f"{key} must be a finite number")
    return Fraction(exact)


def _read_bool(key: str, value: Any) -> bool:
    """DynamoDB BOOL, or the numbers 0/1, or the strings true/false (hand-edited items)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigValueError(f"{key} must be a boolean, got {value!r}")


def _read_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigValueError(f"{key} must be a string, got {type(value).__name__}")
    return value


def _read_decimal(key: str, value: Any) -> Decimal:
    number = _number(key, value)
    try:
        return Decimal(number)
    except ArithmeticError as exc:
        raise ConfigValueError(f"{key} must be a number, got {value!r}") from exc


Reader = Callable[[str, Any], Any]

_MARKET_READERS: dict[str, Reader] = {
    "enabled": _read_bool,
    "quote_size": _read_count,
    "min_spread": _read_price,
    "max_inventory_yes": _read_count,
    "max_inventory_no": _read_count,
    "inventory_skew_factor": _read_fraction,
    "fair_value": _read_price,
    "toxicity_score": _read_decimal,
    "event_ticker": _read_str,
    "levels": _read_int,
    "level_spacing_ticks": _read_int,
    "fair_value_source": _read_str,
    "tight_book_spread": _read_price,
    "volatility_gate": _read_bool,
    "shard": _read_int,
}
# Fields where an explicit DynamoDB NULL means "not set".
_NULLABLE = frozenset({"fair_value", "toxicity_score", "event_ticker", "shard"})


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
    if config.shard is not None:
        item["shard"] = Decimal(config.shard)
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
    # one active instance per shard (docs/architecture.md#lease) and its order group
    shards: int | None = None  # how many shards; DORA_SHARDS or --shards win over it
    lease_duration_ms: int = 20_000
    max_matched_contracts_15s: Count | None = None  # None: sized from the markets' caps
    order_group_reset: str = "auto"  # auto | manual (dora.core.order_groups.ResetPolicy)
    order_group_cooloff_s: int = 60
    extra: Mapping[str, Any] = field(default_factory=dict)


_GLOBAL_READERS: dict[str, Reader] = {
    "max_total_exposure": _read_count,
    "max_daily_loss": _read_micros,
    "trading_enabled": _read_bool,
    "loop_interval_ms": _read_int,
    "cancel_on_startup": _read_bool,
    "use_batch_execution": _read_bool,
    "config_refresh_cycles": _read_int,
    "close_guard_ms": _read_int,
    "daily_reset_hour_utc": _read_int,
    "max_consecutive_errors": _read_int,
    "shards": _read_int,
    "lease_duration_ms": _read_int,
    "max_matched_contracts_15s": _read_count,
    "order_group_reset": _read_str,
    "order_group_cooloff_s": _read_int,
}
_GLOBAL_LIMITS: dict[str, tuple[int, int | None]] = {  # inclusive lower, optional upper bound
    "max_total_exposure": (0, None),
    "max_daily_loss": (0, None),
    "loop_interval_ms": (0, None),
    "config_refresh_cycles": (1, None),
    "close_guard_ms": (0, None),
    "daily_reset_hour_utc": (0, 23),
    "max_consecutive_errors": (1, None),
    "shards": (1, 16),
    "lease_duration_ms": (2_000, 120_000),
    "max_matched_contracts_15s": (100, None),
    "order_group_cooloff_s": (15, None),
}
_GROUP_RESET_POLICIES = ("auto", "manual")
# Keys whose explicit null means "not set" (the default applies, no problem reported).
_GLOBAL_NULLABLE = frozenset({"use_batch_execution", "shards", "max_matched_contracts_15s"})


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
    extra = {k: v for k, v in item.items() if k not in _GLOBAL_READERS}
    return GlobalConfig(extra=extra, **values), problems


def _check_global_limit(key: str, value: Any) -> None:
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
    for f in fields(config):
        if f.name == "extra":
            continue
        value = getattr(config, f.name)
        if f.name in ("max_total_exposure", "max_matched_contracts_15s"):
            if value is not None:
                item[f.name] = count_to_decimal(value)
        elif f.name == "max_daily_loss":
            item[f.name] = micros_to_decimal(value)
        elif isinstance(value, bool | str) or value is None:
            if value is not None:
                item[f.name] = value
        else:
            item[f.name] = Decimal(value)
    return item
