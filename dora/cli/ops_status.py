"""`dora status` (what the bot last saved) and `dora cancel-all` (dora's orders only)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import click

from dora.bot.loop import LoopSettings
from dora.cli.app import build_client, resolve_connection
from dora.cli.config import ENVIRONMENTS, resolve_settings
from dora.cli.ops import ENV_OPTION, _guarded, _store
from dora.core.errors import ConfigError, DoraError
from dora.core.models import CancelStatus, PositionState
from dora.core.positions import avg_entry_price
from dora.core.units import format_count, format_micros, format_price
from dora.runtime.clock import SystemClock

# Not an option: any other prefix could match orders dora did not place (an operator's own).
BOT_ORDER_PREFIX = LoopSettings().id_prefix


@click.command()
@ENV_OPTION
def status(env: str) -> None:
    """Mode, halt state, last sync times, positions, P&L and resting orders as last saved."""
    def work() -> None:
        store = _store(env)
        flags = store.load_global_config_item() or {}
        state = store.load_state()
        flag = flags.get("use_batch_execution")
        mode = "flag absent (CLI default)" if flag is None else ("batch" if flag else "per-market")
        risk = state.risk
        click.echo(f"mode:        {mode}")
        click.echo(f"halted:      {'YES - ' + risk.halt_reason if risk.trading_halted else 'no'}")
        click.echo(f"daily P&L:   ${format_micros(risk.daily_pnl)} (day {risk.day or '-'})")
        click.echo(f"last fill:   {risk.last_fill_ts_ms or '-'} (epoch ms)")
        for key in ("risk_state", "open_orders", "balance"):
            item = store.get_state_item(key) or {}
            click.echo(f"{key + ' saved:':<13}{item.get('last_updated', '-')}")
        _echo_cash(store.get_state_item("balance") or {})
        _echo_positions(state.positions)
        orders = (store.get_state_item("open_orders") or {}).get("orders", {})
        click.echo(f"resting orders: {len(orders)}")
        for order_id, order in sorted(orders.items()):
            click.echo(f"  {order.get('market_id')} {order.get('side')} {order.get('size')} @ "
                       f"{order.get('price')}  ({order_id})")
    _guarded(work)


def _echo_cash(item: Mapping[str, object]) -> None:
    """The saved balance and the promised-cash ledger's view of it (docs/architecture.md)."""
    def dollars(key: str) -> str:
        return f"${item[key]}" if item.get(key) is not None else "-"
    click.echo(f"cash:        balance {dollars('balance')}, promised {dollars('promised')}, "
               f"free {dollars('free')} (balance as of {item.get('exchange_updated_at', '-')})")


def _echo_positions(positions: Mapping[str, PositionState]) -> None:
    open_positions = [p for p in positions.values() if p.net and not p.settled]
    click.echo(f"positions:   {len(open_positions)} open")
    for p in sorted(open_positions, key=lambda p: p.ticker):
        entry = avg_entry_price(p)
        click.echo(f"  {p.ticker:<40} net {format_count(p.net):>10} entry "
                   f"{format_price(entry) if entry is not None else '-'} realized "
                   f"${format_micros(p.realized_pnl)}")


@click.command("cancel-all")
@click.option("--env", "env", type=click.Choice(ENVIRONMENTS), default="sim", show_default=True)
@click.option("--url", default=None, help="Explicit exchange base URL.")
def cancel_all(env: str, url: str | None) -> None:
    """Cancel every resting order dora placed (client_order_id starting with "dora-"); never an
    operator's manual orders."""
    def work() -> None:
        settings = resolve_settings(env=env, url=url, tier="basic", environ=os.environ)
        if settings.embedded:
            raise ConfigError("cancel-all needs an exchange: give --url, DORA_SIM_READY_FILE "
                              "or --env demo|prod with credentials")
        client = build_client(resolve_connection(settings, os.environ), settings.tier,
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
