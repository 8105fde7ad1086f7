"""How operator commands show values: dollars with cents, contracts, prices, UTC times with ages.

Stored and internal values are exact integers (docs/architecture.md); these turn them into what an
operator reads, and nothing here feeds back into a stored value.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import TsMs
from dora.core.timefmt import iso_ms
from dora.core.units import Count, Micros, Price, format_count, format_price, micros_to_decimal

_CENT = Decimal("0.01")
# GlobalConfig's annotations (strings: market_config uses postponed annotations) -> a kind.
FLAG_KINDS: Final = {
    f.name: str(f.type).removesuffix(" | None") for f in dataclass_fields(GlobalConfig)
    if f.name != "extra"
}


def dollars(amount: Micros) -> str:
    """Micro-dollars as ``$1,234.57`` / ``-$0.50`` (rounded half-even to the cent, display only)."""
    cents = micros_to_decimal(abs(amount)).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    return f"{'-' if amount < 0 else ''}${cents:,}"


def contracts(count: Count) -> str:
    return f"{whole(format_count(count))} contracts"


def whole(number: str) -> str:
    """``500.00`` -> ``500``; ``1.50`` stays."""
    return number.removesuffix(".00")


def price(value: Price) -> str:
    return f"${format_price(value)}"


def flag_value(name: str, value: Any) -> str:
    """One global config value as an operator reads it (internal units -> dollars, contracts)."""
    if value is None:
        return "absent"
    kind = FLAG_KINDS.get(name, "")
    if kind == "Micros":
        return dollars(int(value))
    if kind == "Price":
        return price(int(value))
    if kind == "Count":
        return contracts(int(value))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int" and name.endswith("_ms"):
        return f"{value} ms"
    if kind == "int" and name.endswith("_s"):
        return f"{value} s"
    return str(value)


def effective_flags(config: GlobalConfig, stored: dict[str, Any]) -> list[str]:
    """Every known flag with the value the bot uses, marked ``(default)`` when not stored."""
    lines = []
    for name in FLAG_KINDS:
        note = "" if name in stored else "  (default)"
        if name == "use_batch_execution" and config.use_batch_execution is None:
            note = "  (the run's --batch/--per-market decides)"
        lines.append(f"{name:<24}{flag_value(name, getattr(config, name))}{note}")
    lines += [f"{name:<24}{value}  (not a dora flag)" for name, value in sorted(stored.items())
              if name not in FLAG_KINDS]
    return lines


def market_line(config: MarketConfig) -> str:
    return (
        f"{config.market_id:<40} {'enabled ' if config.enabled else 'disabled'} "
        f"size {whole(format_count(config.quote_size))}  spread {price(config.min_spread)}  "
        f"caps yes {whole(format_count(config.max_inventory_yes))} / no "
        f"{whole(format_count(config.max_inventory_no))} contracts"
    )


def when(ts_ms: TsMs | None, now_ms: TsMs) -> str:
    """``2026-01-01T12:00:00.000Z (42 s ago)``, or ``-`` for never."""
    if not ts_ms:
        return "-"
    return f"{iso_ms(ts_ms)} ({age(now_ms - ts_ms)})"


def age(elapsed_ms: int) -> str:
    seconds = max(elapsed_ms, 0) // 1000
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def order_line(order: dict[str, Any]) -> str:
    """A stored open order. ``price`` is always the YES price; an ask (stored ``side`` "no")
    buys NO at one dollar minus it (docs/kalshi-notes.md#order-entry)."""
    yes_price = Decimal(str(order.get("price", "0")))
    size = order.get("size", "?")
    if order.get("type") == "ask" or order.get("side") == "no":
        what = f"buy NO  {size} @ ${1 - yes_price:.4f} (sell YES @ ${yes_price:.4f})"
    else:
        what = f"buy YES {size} @ ${yes_price:.4f}"
    return f"{order.get('market_id', '?'):<32} {what}"
