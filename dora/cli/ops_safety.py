"""Operator safety: `dora halt` (`--now` pulls every quote exchange-side at once), `dora resume`,
and `dora groups` (the shard leases' order groups; docs/architecture.md#lease).

A halt is one flag for every shard: the unsuffixed ``risk_state`` item (with a single shard it is
the bot's own). `dora resume` clears it, and with several shards also the halts each shard's own
limits set. `dora halt --now` also triggers the order group of every lease, which makes the
exchange cancel every quote of every holder in one call each, then cancels whatever of dora's
still rests (orders outside a group) and checks the listing.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import click

from dora.cli.app import build_client, resolve_connection
from dora.cli.config import resolve_settings
from dora.cli.ops import _guarded, _store
from dora.cli.ops_status import BOT_ORDER_PREFIX, lease_line
from dora.cli.target import Target, target_options
from dora.core.errors import DoraError, NotFoundError, StaleWriteError
from dora.core.models import CancelStatus
from dora.core.shards import ShardId, all_lease_keys
from dora.runtime.clock import SystemClock
from dora.store.store import Store

# A running bot saves risk_state every few cycles; the operator's versioned write can lose a race.
HALT_WRITE_ATTEMPTS = 5


@click.command()
@target_options(writes=True)
@click.option("--reason", required=True, callback=lambda _ctx, _param, text: _non_blank(text),
              help="Why trading stops (shown in status and logs).")
@click.option("--now", "now", is_flag=True,
              help="Also trigger every shard's order group (the exchange cancels every quote at "
                   "once) and cancel what is left; needs the exchange's credentials.")
@click.option("--url", default=None, help="With --now: an explicit exchange base URL.")
def halt(target: Target, reason: str, now: bool, url: str | None) -> None:
    """Halt trading: every shard's bot takes its quotes down and places nothing until
    `dora resume`."""
    _set_halt(target, True, reason)
    if now:
        _guarded(lambda: _pull_every_quote(target, url))


@click.command()
@target_options(writes=True)
def resume(target: Target) -> None:
    """Resume trading after a halt (the operator's, and with several shards each shard's own)."""
    _set_halt(target, False, "")


def _non_blank(text: str) -> str:
    if not text.strip():
        raise click.BadParameter("must not be empty: say why, e.g. --reason 'exchange maintenance'")
    return text.strip()


def _set_halt(target: Target, halted: bool, reason: str) -> None:
    def work() -> None:
        store = _store(target)
        _write_halt(store, None, halted, reason)
        layout = _layout(store)
        if not halted and layout > 1:
            for index in range(layout):
                _write_halt(store, ShardId(index, layout), False, "")
        tables = store.names["dora_state"]
        click.echo(f"trading halted ({tables}): every shard takes its quotes down within a cycle"
                   if halted else f"trading resumed ({tables})")
    _guarded(work)


def _write_halt(store: Store, shard: ShardId | None, halted: bool, reason: str) -> None:
    """The operator's halt (``shard`` None), or a shard's own halt cleared."""
    if shard is not None:
        store.use_shard(shard)
    for attempt in range(1, HALT_WRITE_ATTEMPTS + 1):
        risk = store.load_state().risk  # re-read: keep the bot's latest numbers
        if shard is not None and not risk.trading_halted:
            break
        try:
            store.save_risk_state(replace(risk, trading_halted=halted, halt_reason=reason))
            break
        except StaleWriteError:
            if attempt == HALT_WRITE_ATTEMPTS:
                raise
    store.use_shard(ShardId(0, 1))


def _layout(store: Store) -> int:
    """The largest shard count any lease item records (1 without leases)."""
    return max((r.shards for r in store.leases.read(all_lease_keys()).values()), default=1)


def _pull_every_quote(target: Target, url: str | None) -> None:
    store = _store(target)
    settings = resolve_settings(env=target.env, url=url or target.exchange_url, tier="basic",
                                environ=target.environ)
    client = build_client(resolve_connection(settings, target.environ), settings.tier,
                          SystemClock())
    for record in sorted(store.leases.read(all_lease_keys()).values(), key=lambda r: r.key):
        if record.order_group_id:
            try:
                client.trigger_order_group(record.order_group_id)
            except NotFoundError:
                continue
            click.echo(f"{record.key}: order group {record.order_group_id} triggered")
    own = [o.order_id for o in client.fetch_resting_orders()
           if o.client_order_id.startswith(BOT_ORDER_PREFIX)]
    failed = [r for r in client.cancel_orders(own) if r.status is CancelStatus.FAILED]
    for result in failed:
        logging.getLogger("dora").warning("cancel failed: %s %s", result.order_id,
                                          result.error_code)
    left = [o for o in client.fetch_resting_orders()
            if o.client_order_id.startswith(BOT_ORDER_PREFIX)]
    click.echo(f"cancelled {len(own) - len(failed)} more; the listing shows {len(left)} of "
               f"dora's orders resting (it may lag the exchange by a moment)")
    if failed:
        raise DoraError(f"{len(failed)} cancels failed; run `dora cancel-all`")


@click.group()
def groups() -> None:
    """The shard leases' order groups (the exchange-side kill switch of each epoch)."""


@groups.command("list")
@target_options(writes=False)
def groups_list(target: Target) -> None:
    """Each lease: holder, epoch, its group and the earlier epochs' groups still to delete."""
    def work() -> None:
        records = _store(target).leases.read(all_lease_keys())
        if not records:
            click.echo("no leases: no dora has run against these tables")
        for record in sorted(records.values(), key=lambda r: r.key):
            click.echo(lease_line(record, SystemClock().now_ms()))
    _guarded(work)


@groups.command("reset")
@target_options(writes=True)
@click.option("--shard", type=click.IntRange(min=0), default=None,
              help="Only this shard's group (0-based); default every shard's.")
def groups_reset(target: Target, shard: int | None) -> None:
    """Reopen a triggered group (order_group_reset: manual): its holder resets it within a
    cycle and quotes again."""
    def work() -> None:
        store = _store(target)
        now_ms = SystemClock().now_ms()
        records = store.leases.read(all_lease_keys())
        chosen = [r for r in records.values() if r.order_group_id and not r.released
                  and (shard is None or r.key == f"lease#{shard}")]
        if not chosen:
            raise click.ClickException("no held lease with an order group"
                                       + (f" for shard {shard}" if shard is not None else ""))
        for record in sorted(chosen, key=lambda r: r.key):
            done = store.leases.request_group_reset(record.key, record.order_group_id, now_ms)
            click.echo(f"{record.key}: reset of {record.order_group_id} "
                       + ("requested" if done else "not needed: the lease has a new group"))
    _guarded(work)
