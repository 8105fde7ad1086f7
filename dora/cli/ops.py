"""Operator commands: tables, market configs, flags, halt/resume, status, cancel-all.

They talk to the same DynamoDB tables as the bot (suffix from --env or DORA_TABLE_ENV; endpoint from
DORA_DYNAMODB_ENDPOINT, else the standard AWS settings; --local for the stack `make run` started:
dora/cli/target.py). A bad value exits non-zero with a message that says how to fix it; values are
echoed in dollars and contracts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import click

from dora.cli.config import resolve_settings
from dora.cli.display import FLAG_KINDS, effective_flags, flag_value, market_line
from dora.cli.target import Target, target_options
from dora.core.errors import DoraError, StaleWriteError, StoreError
from dora.core.market_config import (
    OPTIONAL_MARKET_FIELDS,
    GlobalConfig,
    InvalidMarketConfig,
    MarketConfig,
    parse_global_config,
    parse_market_config,
)
from dora.runtime.clock import SystemClock
from dora.store.store import Store, make_dynamodb_resource

ALLOW_UNKNOWN_OPTION = click.option(
    "--allow-unknown", is_flag=True,
    help="Store field names dora does not know (other tools' fields) instead of refusing them.",
)

MARKET_KEY_FIELD = "market_id"
MARKET_FIELDS: Final = tuple(
    f.name for f in dataclass_fields(MarketConfig) if f.name not in (MARKET_KEY_FIELD, "extra")
)
GLOBAL_KEYS: Final = tuple(f.name for f in dataclass_fields(GlobalConfig) if f.name != "extra")
REMOVE_FIELD: Final = object()  # an assignment `field=` with nothing after the `=`

# DynamoDB stores numbers between 1E-130 and 9.99..E+125 in magnitude.
_DYNAMODB_MAX_EXPONENT = 125
_DYNAMODB_MIN_EXPONENT = -130
_STORE_HINT = (
    "Check the DynamoDB settings: set DORA_DYNAMODB_ENDPOINT for a local DynamoDB, or the "
    "standard AWS settings (AWS_REGION and credentials, e.g. AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE); run `dora init-db` if the tables are missing."
)


def _store(target: Target) -> Store:
    settings = resolve_settings(env=target.env, url=None, tier="basic", environ=target.environ)
    resource = make_dynamodb_resource(settings.dynamodb_endpoint, settings.region)
    return Store(resource, settings.table_env, SystemClock())


def error_message(exc: DoraError) -> str:
    """What the CLI prints for a DoraError; a store failure also says which settings to check."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, StoreError) and not isinstance(exc, StaleWriteError):
        return f"{message}\n{_STORE_HINT}"
    return message


def _guarded(fn: Callable[[], None]) -> None:
    try:
        fn()
    except DoraError as exc:
        raise click.ClickException(error_message(exc)) from exc


def parse_value(key: str, text: str) -> Any:
    """CLI value -> DynamoDB value: true/false, a decimal number, or the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        raise click.BadParameter(f"{key}={text!r} is not a finite number")
    if number and not _DYNAMODB_MIN_EXPONENT <= number.adjusted() <= _DYNAMODB_MAX_EXPONENT:
        raise click.BadParameter(f"{key}={text!r} is outside the range DynamoDB can store")
    return number


def require_known(name: str, known: tuple[str, ...], allow_unknown: bool) -> None:
    if allow_unknown or name in known:
        return
    raise click.BadParameter(
        f"unknown field {name!r}; known fields: {', '.join(known)}. "
        "Check the spelling, or pass --allow-unknown to store it anyway."
    )


def parse_assignments(pairs: tuple[str, ...], allow_unknown: bool = False) -> dict[str, Any]:
    """`key=value` pairs for a market config; `key=` removes an optional or unknown field."""
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: write assignments as key=value, e.g. quote_size=5")
        if key == MARKET_KEY_FIELD:
            raise click.BadParameter(
                f"{pair!r}: {MARKET_KEY_FIELD} is the item's key and cannot be set; give the "
                "market as the first argument: dora markets set TICKER key=value ..."
            )
        require_known(key, MARKET_FIELDS, allow_unknown)
        fields[key] = _removal(key) if not value else parse_value(key, value)
    return fields


def _removal(key: str) -> object:
    if key in MARKET_FIELDS and key not in OPTIONAL_MARKET_FIELDS:
        raise click.BadParameter(
            f"{key}= has no value; {key} cannot be removed, give a value (only "
            f"{', '.join(sorted(OPTIONAL_MARKET_FIELDS))} can be cleared with `field=`)"
        )
    return REMOVE_FIELD


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.command("init-db")
@target_options(writes=True)
def init_db(target: Target) -> None:
    """Create dora's DynamoDB tables (idempotent), with point-in-time recovery and deletion
    protection as the production stack has them."""
    def work() -> None:
        created = _store(target).create_tables()
        click.echo(f"created: {', '.join(created)}" if created else "all tables already exist")
    _guarded(work)


@click.group()
def markets() -> None:
    """Per-market configs (dora_market_config)."""


@markets.command("list")
@target_options(writes=False)
def markets_list(target: Target) -> None:
    """One line per configured market: enabled, size and caps in contracts, spread in dollars
    (defaults filled in), or why the config is invalid."""
    def work() -> None:
        store = _store(target)
        items = sorted(store.load_market_config_items(), key=lambda i: i["market_id"])
        if not items:
            click.echo(f"no market configs in {store.names['dora_market_config']}; add one with "
                       "`dora markets set TICKER quote_size=5 min_spread=0.04 enabled=true`")
        for item in items:
            parsed = parse_market_config(item)
            if isinstance(parsed, InvalidMarketConfig):
                click.echo(f"{parsed.market_id:<40} INVALID: {parsed.reason}")
            else:
                click.echo(market_line(parsed))
    _guarded(work)


@markets.command("show")
@target_options(writes=False)
@click.argument("market_id")
def markets_show(target: Target, market_id: str) -> None:
    """Print one market's config item."""
    def work() -> None:
        item = _store(target).get_market_config_item(market_id)
        if item is None:
            raise click.ClickException(
                f"no config for {market_id}; add one with `dora markets set`"
            )
        _print_json(item)
    _guarded(work)


@markets.command("set")
@target_options(writes=True)
@ALLOW_UNKNOWN_OPTION
@click.argument("market_id")
@click.argument("assignments", nargs=-1, required=True)
def markets_set(
    target: Target, allow_unknown: bool, market_id: str, assignments: tuple[str, ...]
) -> None:
    """Set fields, creating the config if needed. An empty value removes an optional field.

    \b
    dora markets set TICKER quote_size=5 min_spread=0.04 enabled=true
    dora markets set TICKER fair_value=
    """
    _update_market(target, market_id, parse_assignments(assignments, allow_unknown), create=True)


@markets.command("enable")
@target_options(writes=True)
@click.argument("market_id")
def markets_enable(target: Target, market_id: str) -> None:
    """Enable quoting in a market."""
    _update_market(target, market_id, {"enabled": True}, create=False)


@markets.command("disable")
@target_options(writes=True)
@click.argument("market_id")
def markets_disable(target: Target, market_id: str) -> None:
    """Disable a market: dora cancels its own orders there on the next cycle."""
    _update_market(target, market_id, {"enabled": False}, create=False)


def _update_market(
    target: Target, market_id: str, fields: Mapping[str, Any], *, create: bool
) -> None:
    def work() -> None:
        store = _store(target)
        existing = store.get_market_config_item(market_id)
        if existing is None and not create:
            raise click.ClickException(
                f"no config for {market_id}; use `dora markets set {market_id} key=value ...` "
                "to create one"
            )
        item = _apply(existing or {MARKET_KEY_FIELD: market_id}, fields)
        parsed = parse_market_config(item)
        if isinstance(parsed, InvalidMarketConfig):
            raise click.ClickException(f"not saved: {parsed.reason}")
        if parsed.quote_size == 0:
            raise click.ClickException(
                f"not saved: quote_size=0 would keep {market_id} enabled but quote nothing; give a "
                f"size in contracts, or stop quoting with `dora markets disable {market_id}`"
            )
        store.put_market_config_item(item)
        click.echo(f"saved: {market_line(parsed)}")
    _guarded(work)


def _apply(item: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    updated = {**item, **fields}
    return {key: value for key, value in updated.items() if value is not REMOVE_FIELD}


@click.group()
def flags() -> None:
    """Global config and feature flags (dora_state key=global_config)."""


@flags.command("get")
@target_options(writes=False)
@click.argument("name", required=False)
def flags_get(target: Target, name: str | None) -> None:
    """Print every flag with the value the bot uses (defaults marked), or one."""
    def work() -> None:
        item = _store(target).load_global_config_item() or {}
        config, _ = parse_global_config(item)
        if name is None:
            for line in effective_flags(config, item):
                click.echo(line)
        elif name in GLOBAL_KEYS:
            default = "" if name in item else "  (default)"
            click.echo(flag_value(name, getattr(config, name)) + default)
        elif name not in item:
            raise click.ClickException(f"{name} is not set (and is not a dora flag)")
        else:
            click.echo(str(item[name]))
    _guarded(work)


# A value like -5 is an argument here, not an unknown option: no `--` needed.
@flags.command("set", context_settings={"ignore_unknown_options": True})
@target_options(writes=True)
@ALLOW_UNKNOWN_OPTION
@click.argument("name")
@click.argument("value")
def flags_set(target: Target, allow_unknown: bool, name: str, value: str) -> None:
    """Set one flag, e.g. dora flags set use_batch_execution false"""
    require_known(name, GLOBAL_KEYS, allow_unknown)
    parsed = _parse_flag(name, value)

    def work() -> None:
        _store(target).set_global_fields({name: parsed})
        if name in GLOBAL_KEYS:
            config, _ = parse_global_config({name: parsed})
            click.echo(f"{name} = {flag_value(name, getattr(config, name))}")
        else:
            click.echo(f"{name} = {value}")
    _guarded(work)


# Flags whose zero is accepted by the bot but is never what an operator means.
_NOT_ZERO: Final = {
    "loop_interval_ms": "0 would run cycles back to back and spend the API budget as fast as the "
                        "rate limiter allows; give the pause between cycles, e.g. 1000",
}


def _parse_flag(name: str, text: str) -> Any:
    """The stored value for one flag, or a ClickException naming the key and its type."""
    try:
        value = parse_value(name, text)
        _, problems = parse_global_config({name: value})
    except click.BadParameter as exc:
        problems = [exc.message]
    except ValueError:  # the readers raise ConfigValueError; anything else has no key in it
        problems = [f"{name}={text!r} cannot be used"]
    if problems:
        reasons = "; ".join(_in_units(name, p.split("; using ")[0]) for p in problems)
        raise click.ClickException(
            f"not saved: {reasons}. {name} expects {_expected_flag_type(name)}"
        )
    if name in _NOT_ZERO and value == 0:
        raise click.ClickException(f"not saved: {name} {_NOT_ZERO[name]}")
    return value


def _in_units(name: str, problem: str) -> str:
    """The reader reports values in internal units ("got -5000000"); show the operator's."""
    def shown(match: re.Match[str]) -> str:
        return f"got {flag_value(name, int(match.group(1)))}"
    return re.sub(r"got (-?\d+)\b", shown, problem)


_FLAG_TYPE_DESCRIPTIONS: Final = {
    "Count": "a number of contracts, e.g. 500",
    "Micros": "a dollar amount, e.g. 100",
    "Price": "a price in dollars, e.g. 0.05",
    "bool": "true or false",
    "int": "a whole number",
    "str": "a name, e.g. classic",
}


def _expected_flag_type(name: str) -> str:
    return _FLAG_TYPE_DESCRIPTIONS.get(FLAG_KINDS.get(name, ""), "any value")
