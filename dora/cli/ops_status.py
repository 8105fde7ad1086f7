"""`dora status` (what the bot last saved) and `dora cancel-all` (dora's orders only)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import click

from dora.bot.loop import LoopSettings
from dora.cli.app import build_client, resolve_connection
from dora.cli.config import ENVIRONMENTS, resolve_settings
from dora.cli.display import dollars, order_line, price, when
from dora.cli.ops import _guarded, _store
from dora.cli.target import Target, resolve_target, target_options
from dora.core.errors import DoraError
from dora.core.models import CancelStatus, PositionState
from dora.core.positions import avg_entry_price
from dora.core.shards import ShardId, all_lease_keys
from dora.core.timefmt import parse_iso_ms
from dora.core.units import UnitError, dollars_decimal_to_micros, format_count
from dora.runtime.clock import SystemClock
from dora.store.lease import LeaseRecord

# Not an option: any other prefix could match orders dora did not place (an operator's own).
BOT_ORDER_PREFIX = LoopSettings().id_prefix


@click.command()
@target_options(writes=False)
def status(target: Target) -> None:
    """Mode, halt state, last sync times, positions, P&L and resting orders as last saved."""
    def work() -> None:
        store = _store(target)
        now_ms = SystemClock().now_ms()
        flags = store.load_global_config_item() or {}
        state = store.load_state()
        flag = flags.get("use_batch_execution")
        mode = "flag absent (CLI default)" if flag is None else ("batch" if flag else "per-market")
        risk = state.risk
        click.echo(f"tables:      {store.names['dora_state']}")
        leases = store.leases.read(all_lease_keys())
        click.echo(f"leases:      {len(leases) or 'none (no dora has run here)'}")
        for record in sorted(leases.values(), key=lambda r: r.key):
            click.echo(f"  {lease_line(record, now_ms)}")
        layout = max((r.shards for r in leases.values()), default=1)
        if layout > 1:
            _echo_shards(target, layout, now_ms)
        click.echo(f"mode:        {mode}")
        click.echo(f"halted:      {'YES - ' + risk.halt_reason if risk.trading_halted else 'no'}")
        click.echo(f"daily P&L:   {dollars(risk.daily_pnl)} (day {risk.day or '-'})")
        click.echo(f"last fill:   {when(risk.last_fill_ts_ms, now_ms)}")
        for key in ("risk_state", "open_orders", "balance"):
            item = store.get_state_item(key) or {}
            click.echo(f"{key + ' saved:':<19}{_saved_at(item, now_ms)}")
        _echo_cash(store.get_state_item("balance") or {})
        _echo_positions(state.positions)
        orders = (store.get_state_item("open_orders") or {}).get("orders", {})
        click.echo(f"resting orders: {len(orders)}")
        for order_id, order in sorted(orders.items()):
            click.echo(f"  {order_line(order)}  ({order_id})")
    _guarded(work)


def _echo_shards(target: Target, layout: int, now_ms: int) -> None:
    """Each shard's own items as it last saved them: its halt, daily P&L, positions, orders."""
    click.echo(f"shards:      {layout}")
    for index in range(layout):
        store = _store(target)
        store.use_shard(ShardId(index, layout))
        state = store.load_state()
        orders = (store.get_state_item(store.state_key("open_orders")) or {}).get("orders", {})
        risk = state.risk
        open_positions = sum(1 for p in state.positions.values() if p.net and not p.settled)
        saved = _saved_at(store.get_state_item(store.state_key("risk_state")) or {}, now_ms)
        click.echo(f"  shard {index + 1}/{layout}: halted "
                   f"{'YES - ' + risk.halt_reason if risk.trading_halted else 'no'}, daily P&L "
                   f"{dollars(risk.daily_pnl)}, {open_positions} positions, {len(orders)} "
                   f"resting orders, saved {saved}")


def lease_line(record: LeaseRecord, now_ms: int) -> str:
    """One shard lease: who holds it, its epoch and layout, when it runs out, its group."""
    holder = record.owner or "released"
    left = record.expires_at_ms - now_ms
    expires = ("-" if not record.expires_at_ms else
               f"in {left // 1000} s" if left >= 0 else f"{-left // 1000} s ago")
    return (f"{record.key:<9} {holder:<40} epoch {record.epoch} of {record.shards} shard(s), "
            f"expires {expires}, group {record.order_group_id or '-'}"
            f" (+{len(record.retired_groups)} retired)")


def _echo_cash(item: Mapping[str, Any]) -> None:
    """The saved balance and the promised-cash ledger's view of it (docs/architecture.md)."""
    def amount(key: str) -> str:
        value = item.get(key)
        try:
            return "-" if value is None else dollars(dollars_decimal_to_micros(value))
        except UnitError:
            return str(value)
    click.echo(f"cash:              balance {amount('balance')}, promised {amount('promised')}, "
               f"free {amount('free')} (balance as of {item.get('exchange_updated_at', '-')})")


def _saved_at(item: Mapping[str, Any], now_ms: int) -> str:
    stamp = item.get("last_updated")
    if not isinstance(stamp, str) or not stamp:
        return "-"
    try:
        return when(parse_iso_ms(stamp), now_ms)
    except ValueError:
        return stamp


def _echo_positions(positions: Mapping[str, PositionState]) -> None:
    open_positions = [p for p in positions.values() if p.net and not p.settled]
    click.echo(f"positions:   {len(open_positions)} open")
    for p in sorted(open_positions, key=lambda p: p.ticker):
        entry = avg_entry_price(p)
        click.echo(f"  {p.ticker:<40} net {format_count(p.net):>10} YES  entry "
                   f"{price(entry) if entry is not None else '-'}  realized "
                   f"{dollars(p.realized_pnl)}")


@click.command("cancel-all")
@click.option("--env", "env", type=click.Choice(ENVIRONMENTS), default=None,
              help="demo|prod: Kalshi with KALSHI_* credentials; sim needs --url or a ready file.")
@click.option("--url", default=None, help="Explicit exchange base URL.")
@click.option("--local", is_flag=True,
              help="The local exchange `make run` started (.dora-local/endpoints.env).")
def cancel_all(env: str | None, url: str | None, local: bool) -> None:
    """Cancel every resting order dora placed (client_order_id starting with "dora-"); never an
    operator's manual orders."""
    target = resolve_target(env or ("sim" if url else None), local, writes=True)
    def work() -> None:
        settings = resolve_settings(env=target.env, url=url or target.exchange_url,
                                    tier="basic", environ=target.environ)
        client = build_client(resolve_connection(settings, target.environ), settings.tier,
                              SystemClock())
        own = [o.order_id for o in client.fetch_resting_orders()
               if o.client_order_id.startswith(BOT_ORDER_PREFIX)]
        results = client.cancel_orders(own)
        failed = [r for r in results if r.status is CancelStatus.FAILED]
        click.echo(f"cancelled {len(results) - len(failed)} of {len(own)} dora orders")
        for r in failed:
            logging.getLogger("dora").warning("cancel failed: %s %s", r.order_id, r.error_code)
        if failed:
            raise DoraError(f"{len(failed)} cancels failed; run again")
    _guarded(work)
