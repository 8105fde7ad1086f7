"""The lease's operator commands: `dora groups list|reset`, `dora status`'s leases, `dora halt
--now` (every group triggered exchange-side), `dora resume` across shards, `dora run --shards`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dora.cli.app import Connection, build_client
from dora.cli.main import main
from dora.core.models import OrderRequest, OrderStatus, RiskState, Side
from dora.core.shards import ShardId, lease_key
from dora.exchange.credentials import Credentials
from dora.runtime.clock import SystemClock
from dora.store.lease import LeaseRecord
from dora.store.store import Store, make_dynamodb_resource


def store_of(endpoint: str) -> Store:
    return Store(make_dynamodb_resource(endpoint, "us-east-1"), "sim", SystemClock())


def held(store: Store, index: int = 0, group: str = "g1", shards: int = 1) -> LeaseRecord:
    record = store.leases.acquire(lease_key(index), None, owner=f"run-{index}@task",
                                  lease_ms=20_000, shards=shards,
                                  now_ms=SystemClock().now_ms())
    assert record is not None
    return store.leases.renew(record, now_ms=SystemClock().now_ms(), lease_ms=20_000,
                              order_group_id=group)


def test_groups_list_and_status_show_each_lease(cli, dynamo_endpoint) -> None:
    assert "no leases" in cli("groups", "list").output
    held(store_of(dynamo_endpoint), group="grp-7")
    listed = cli("groups", "list").output
    assert "lease#0" in listed and "run-0@task" in listed and "grp-7" in listed
    status = cli("status").output
    assert "leases:      1" in status and "epoch 1 of 1 shard(s)" in status


def test_groups_reset_records_the_request_for_the_holder(cli, dynamo_endpoint) -> None:
    store = store_of(dynamo_endpoint)
    held(store, group="grp-7")
    result = cli("groups", "reset")
    assert result.exit_code == 0, result.output
    assert "reset of grp-7 requested" in result.output
    record = store.leases.read_one(lease_key(0))
    assert record is not None and record.group_reset_ms > 0
    missing = cli("groups", "reset", "--shard", "3")
    assert missing.exit_code != 0 and "for shard 3" in missing.output


def test_resume_clears_every_shard_s_own_halt_too(cli, dynamo_endpoint) -> None:
    store = store_of(dynamo_endpoint)
    held(store, index=0, shards=2)
    for index in range(2):
        shard_store = store_of(dynamo_endpoint)
        shard_store.use_shard(ShardId(index, 2))
        shard_store.load_state()
        shard_store.save_risk_state(RiskState(daily_pnl=-5, trading_halted=True,
                                              halt_reason="daily_loss"))
    assert cli("halt", "--reason", "desk").exit_code == 0
    assert store.load_operator_halt().trading_halted
    status = cli("status").output
    assert "shards:      2" in status and "shard 2/2: halted YES - daily_loss" in status
    assert cli("resume").exit_code == 0
    assert not store.load_operator_halt().trading_halted
    for index in range(2):
        shard_store = store_of(dynamo_endpoint)
        shard_store.use_shard(ShardId(index, 2))
        risk = shard_store.load_state().risk
        assert not risk.trading_halted and risk.daily_pnl == -5  # its numbers kept


def test_halt_now_triggers_every_group_and_leaves_manual_orders(cli, dynamo_endpoint,
                                                                sim_factory) -> None:
    sim = sim_factory(markets=1, flow=False)
    key = Path(sim.private_key_path or "").read_bytes()
    client = build_client(Connection(sim.url, Credentials.from_pem(sim.key_id, key)), "basic",
                          SystemClock())
    ticker = client.fetch_markets(status="open")[0].ticker
    group = client.create_order_group(1000)
    in_group = [client.place_order(OrderRequest(ticker, Side.BID, 100 * (i + 1), 100,
                                                f"dora-e1s0-x-{i}", order_group_id=group))
                for i in range(3)]
    client.place_order(OrderRequest(ticker, Side.BID, 100, 100, "dora-untagged-1"))
    client.place_order(OrderRequest(ticker, Side.BID, 100, 100, "manual-1"))
    store = store_of(dynamo_endpoint)
    held(store, group=group)
    env = {"DORA_DYNAMODB_ENDPOINT": dynamo_endpoint, "DORA_TABLE_ENV": "sim",
           "KALSHI_API_KEY_ID": sim.key_id, "KALSHI_PRIVATE_KEY_PATH": sim.private_key_path or ""}
    result = CliRunner().invoke(main, ["halt", "--env", "sim", "--reason", "now", "--now",
                                       "--url", sim.url], env=env)
    assert result.exit_code == 0, result.output
    assert f"order group {group} triggered" in result.output
    with sim.lock:
        statuses = {sim.engine.order("dora", r.order_id).status for r in in_group}
        resting = [o.client_order_id for o in sim.engine.orders("dora", status=OrderStatus.RESTING)]
    assert statuses == {OrderStatus.CANCELED}
    assert resting == ["manual-1"]  # the untagged dora order was cancelled one by one
    assert store.load_operator_halt().trading_halted


@pytest.mark.parametrize("shards", ["0", "17"])
def test_run_refuses_a_shard_count_out_of_range(shards: str) -> None:
    result = CliRunner().invoke(main, ["run", "--shards", shards])
    assert result.exit_code == 2 and "--shards" in result.output


def test_dora_shards_must_be_a_count() -> None:
    result = CliRunner().invoke(main, ["run", "--loops", "1", "--url", "http://127.0.0.1:9"],
                                env={"DORA_SHARDS": "three"})
    assert result.exit_code != 0 and "DORA_SHARDS" in result.output

