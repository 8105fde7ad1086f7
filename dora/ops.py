"""Operator commands: tables, market configs, flags, halt/resume, status, cancel-all.

They talk to the same DynamoDB tables as the bot (suffix from --env or DORA_TABLE_ENV; endpoint from
DORA_DYNAMODB_ENDPOINT, else the standard AWS settings). A bad value exits non-zero with a message
that says how to fix it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from dora.clock import SystemClock
from dora.config import ENVIRONMENTS, resolve_settings
from dora.errors import DoraError
from dora.market_config import (
    InvalidMarketConfig,
    parse_global_config,
    parse_market_config,
)
from dora.store import Store, make_dynamodb_resource

ENV_OPTION = click.option(
    "--env", "env", type=click.Choice(ENVIRONMENTS), default="sim", show_default=True,
    help="Which environment's tables (DORA_TABLE_ENV overrides).",
)


def _store(env: str) -> Store:
    settings = resolve_settings(env=env, url=None, tier="basic", environ=os.environ)
    resource = make_dynamodb_resource(settings.dynamodb_endpoint, settings.region)
    return Store(resource, settings.table_env, SystemClock())


def _guarded(fn: Callable[[], None]) -> None:
    try:
        fn()
    except DoraError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def parse_value(text: str) -> Any:
    """CLI value -> DynamoDB value: true/false, a decimal number, or the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        raise click.BadParameter(f"{text!r} is not a finite number")
    return number


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: write assignments as key=value, e.g. quote_size=5")
        fields[key.strip()] = parse_value(value)
    return fields


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
@click.argument("market_id")
@click.argument("assignments", nargs=-1, required=True)
def markets_set(env: str, market_id: str, assignments: tuple[str, ...]) -> None:
    """Set fields: dora markets set TICKER quote_size=5 min_spread=0.04 enabled=true"""
    _update_market(env, market_id, parse_assignments(assignments))


@markets.command("enable")
@ENV_OPTION
@click.argument("market_id")
def markets_enable(env: str, market_id: str) -> None:
    """Enable quoting in a market."""
    _update_market(env, market_id, {"enabled": True})


@markets.command("disable")
@ENV_OPTION
@click.argument("market_id")
def markets_disable(env: str, market_id: str) -> None:
    """Disable a market: dora cancels its own orders there on the next cycle."""
    _update_market(env, market_id, {"enabled": False})


def _update_market(env: str, market_id: str, fields: Mapping[str, Any]) -> None:
    def work() -> None:
        store = _store(env)
        item = dict(store.get_market_config_item(market_id) or {"market_id": market_id})
        item.update(fields)
        parsed = parse_market_config(item)
        if isinstance(parsed, InvalidMarketConfig):
            raise click.ClickException(f"not saved: {parsed.reason}")
        store.put_market_config_item(item)
        click.echo(f"{market_id}: saved")
    _guarded(work)


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
@click.argument("name")
@click.argument("value")
def flags_set(env: str, name: str, value: str) -> None:
    """Set one flag, e.g. dora flags set use_batch_execution false"""
    def work() -> None:
        store = _store(env)
        merged = {**(store.load_global_config_item() or {}), name: parse_value(value)}
        _, problems = parse_global_config(merged)
        related = [p for p in problems if name in p]
        if related:
            raise click.ClickException(f"not saved: {'; '.join(related)}")
        store.set_global_fields({name: parse_value(value)})
        click.echo(f"{name} = {value}")
    _guarded(work)


@click.command()
@ENV_OPTION
@click.option("--reason", required=True, help="Why trading stops (shown in status and logs).")
def halt(env: str, reason: str) -> None:
    """Halt trading: the bot cancels its orders and places nothing until `dora resume`."""
    _set_halt(env, True, reason)


@click.command()
@ENV_OPTION
def resume(env: str) -> None:
    """Resume trading after a halt."""
    _set_halt(env, False, "")


def _set_halt(env: str, halted: bool, reason: str) -> None:
    def work() -> None:
        store = _store(env)
        risk = store.load_state().risk
        store.save_risk_state(replace(risk, trading_halted=halted, halt_reason=reason))
        click.echo("trading halted" if halted else "trading resumed")
    _guarded(work)
