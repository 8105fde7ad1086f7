"""Operator commands: tables, market configs, flags, halt/resume, status, cancel-all.

They talk to the same DynamoDB tables as the bot (suffix from --env or DORA_TABLE_ENV; endpoint from
DORA_DYNAMODB_ENDPOINT, else the standard AWS settings). A bad value exits non-zero with a message
that says how to fix it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import click

from dora.cli.config import ENVIRONMENTS, resolve_settings
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

ENV_OPTION = click.option(
    "--env", "env", type=click.Choice(ENVIRONMENTS), default="sim", show_default=True,
    help="Which environment's tables (DORA_TABLE_ENV overrides).",
)
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


def _store(env: str) -> Store:
    settings = resolve_settings(env=env, url=None, tier="basic", environ=os.environ)
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
@ENV_OPTION
def init_db(env: str) -> None:
    """Create dora's DynamoDB tables (idempotent)."""
    def work() -> None:
        created = _store(env).create_tables()
        click.echo(f"created: {', '.join(created)}" if created else "all tables already exist")
    _guarded(work)


@click.group()
def markets() -> None:
    """Per-market configs (dora_market_config)."""


@markets.command("list")
@ENV_OPTION
def markets_list(env: str) -> None:
    """One line per configured market: enabled, size, spread, caps, or why it is invalid."""
    def work() -> None:
        for item in sorted(_store(env).load_market_config_items(), key=lambda i: i["market_id"]):
            parsed = parse_market_config(item)
            if isinstance(parsed, InvalidMarketConfig):
                click.echo(f"{parsed.market_id:<40} INVALID: {parsed.reason}")
            else:
                click.echo(
                    f"{parsed.market_id:<40} {'enabled ' if parsed.enabled else 'disabled'} "
                    f"size={item.get('quote_size')} spread={item.get('min_spread')} "
                    f"caps={item.get('max_inventory_yes')}/{item.get('max_inventory_no')}"
                )
    _guarded(work)


@markets.command("show")
@ENV_OPTION
@click.argument("market_id")
def markets_show(env: str, market_id: str) -> None:
    """Print one market's config item."""
    def work() -> None:
        item = _store(env).get_market_config_item(market_id)
        if item is None:
            raise click.ClickException(
                f"no config for {market_id}; add one with `dora markets set`"
            )
        _print_json(item)
    _guarded(work)


@markets.command("set")
@ENV_OPTION
@ALLOW_UNKNOWN_OPTION
@click.argument("market_id")
@click.argument("assignments", nargs=-1, required=True)
def markets_set(
    env: str, allow_unknown: bool, market_id: str, assignments: tuple[str, ...]
) -> None:
    """Set fields, creating the config if needed. An empty value removes an optional field.

    \b
    dora markets set TICKER quote_size=5 min_spread=0.04 enabled=true
    dora markets set TICKER fair_value=
    """
    _update_market(env, market_id, parse_assignments(assignments, allow_unknown), create=True)


@markets.command("enable")
@ENV_OPTION
@click.argument("market_id")
def markets_enable(env: str, market_id: str) -> None:
    """Enable quoting in a market."""
    _update_market(env, market_id, {"enabled": True}, create=False)


@markets.command("disable")
@ENV_OPTION
@click.argument("market_id")
def markets_disable(env: str, market_id: str) -> None:
    """Disable a market: dora cancels its own orders there on the next cycle."""
    _update_market(env, market_id, {"enabled": False}, create=False)


def _update_market(env: str, market_id: str, fields: Mapping[str, Any], *, create: bool) -> None:
    def work() -> None:
        store = _store(env)
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
        store.put_market_config_item(item)
        click.echo(f"{market_id}: saved")
    _guarded(work)


def _apply(item: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    updated = {**item, **fields}
    return {key: value for key, value in updated.items() if value is not REMOVE_FIELD}


@click.group()
def flags() -> None:
    """Global config and feature flags (dora_state key=global_config)."""


@flags.command("get")
@ENV_OPTION
@click.argument("name", required=False)
def flags_get(env: str, name: str | None) -> None:
    """Print all flags, or one."""
    def work() -> None:
        item = _store(env).load_global_config_item() or {}
        if name is None:
            _print_json(item)
        elif name not in item:
            raise click.ClickException(f"{name} is not set")
        else:
            click.echo(str(item[name]))
    _guarded(work)


@flags.command("set")
@ENV_OPTION
@ALLOW_UNKNOWN_OPTION
@click.argument("name")
@click.argument("value")
def flags_set(env: str, allow_unknown: bool, name: str, value: str) -> None:
    """Set one flag, e.g. dora flags set use_batch_execution false"""
    require_known(name, GLOBAL_KEYS, allow_unknown)
    parsed = _parse_flag(name, value)

    def work() -> None:
        _store(env).set_global_fields({name: parsed})
        click.echo(f"{name} = {value}")
    _guarded(work)


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
        reasons = "; ".join(p.split("; using ")[0] for p in problems)  # nothing is saved
        raise click.ClickException(
            f"not saved: {reasons}. {name} expects {_expected_flag_type(name)}"
        )
    return value


# GlobalConfig's annotations (strings: market_config uses postponed annotations) -> what to type.
_FLAG_TYPES: Final = {
    f.name: str(f.type).removesuffix(" | None") for f in dataclass_fields(GlobalConfig)
}
_FLAG_TYPE_DESCRIPTIONS: Final = {
    "Count": "a number of contracts, e.g. 500",
    "Micros": "a dollar amount, e.g. 100",
    "Price": "a price in dollars, e.g. 0.05",
    "bool": "true or false",
    "int": "a whole number",
    "str": "a name, e.g. classic",
}


def _expected_flag_type(name: str) -> str:
    return _FLAG_TYPE_DESCRIPTIONS.get(_FLAG_TYPES.get(name, ""), "any value")


@click.command()
@ENV_OPTION
@click.option("--reason", required=True, callback=lambda _ctx, _param, text: _non_blank(text),
              help="Why trading stops (shown in status and logs).")
def halt(env: str, reason: str) -> None:
    """Halt trading: the bot cancels its orders and places nothing until `dora resume`."""
    _set_halt(env, True, reason)


@click.command()
@ENV_OPTION
def resume(env: str) -> None:
    """Resume trading after a halt."""
    _set_halt(env, False, "")


def _non_blank(text: str) -> str:
    if not text.strip():
        raise click.BadParameter("must not be empty: say why, e.g. --reason 'exchange maintenance'")
    return text.strip()


def _set_halt(env: str, halted: bool, reason: str) -> None:
    def work() -> None:
        store = _store(env)
        risk = store.load_state().risk
        store.save_risk_state(replace(risk, trading_halted=halted, halt_reason=reason))
        click.echo("trading halted" if halted else "trading resumed")
    _guarded(work)
