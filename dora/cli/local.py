"""The embedded local default: a simulated exchange and a DynamoDB endpoint, both on loopback.

`dora run` with `--env sim` (the default) and no exchange URL or DynamoDB endpoint configured starts
both in-process, creates the tables, seeds example market configs (only into an empty config table)
and trades against them. Nothing leaves the machine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from dora.runtime.clock import Clock
from dora.sim.runner import RunningSim, SimSettings, start_sim
from dora.store.localdb import LocalDynamo, start_local_dynamodb
from dora.store.store import Store, make_dynamodb_resource

LOCAL_TAKER_RATE_PER_S = Fraction(1)
EXAMPLE_MARKET_CONFIG: dict[str, Any] = {
    "enabled": True,
    "quote_size": Decimal("10"),
    "min_spread": Decimal("0.04"),
    "max_inventory_yes": Decimal("50"),
    "max_inventory_no": Decimal("50"),
    "inventory_skew_factor": Decimal("0.25"),
}
EXAMPLE_GLOBAL_CONFIG: dict[str, Any] = {
    "max_total_exposure": Decimal("500"),
    "max_daily_loss": Decimal("100"),
    "trading_enabled": True,
    "loop_interval_ms": Decimal("1000"),
    "cancel_on_startup": True,
}


@dataclass
class LocalEnvironment:
    sim: RunningSim
    dynamo: LocalDynamo
    store: Store


@contextmanager
def local_environment(
    clock: Clock, *, seed: int = 7, markets: int = 6, latency_ms: int = 0, lag_ms: int = 0,
    tier: str = "basic", flow: bool = True,
) -> Iterator[LocalEnvironment]:
    # the generated key lives as long as the stack, and its folder is removed with it
    with tempfile.TemporaryDirectory(prefix="dora-sim-keys-") as key_dir:
        sim = start_sim(SimSettings(seed=seed, markets=markets, latency_ms=latency_ms,
                                    lag_ms=lag_ms, tier=tier, flow=flow), key_dir=key_dir)
        if flow:
            with sim.lock:  # a livelier outside flow than the engine's default: fills come quickly
                sim.engine.configure_flow(None, taker_rate_per_s=LOCAL_TAKER_RATE_PER_S)
        try:
            dynamo = start_local_dynamodb()
            try:
                store = Store(make_dynamodb_resource(dynamo.endpoint_url, "us-east-1"), "sim",
                              clock)
                store.create_tables()
                yield LocalEnvironment(sim, dynamo, store)
            finally:
                dynamo.stop()
        finally:
            sim.stop()


def seed_example_configs(store: Store, tickers: Sequence[str], event_ticker: str = "") -> int:
    """Write example configs for ``tickers`` when the config table is empty; returns how many."""
    if store.load_market_config_items():
        return 0
    for ticker in tickers:
        store.put_market_config_item(
            {"market_id": ticker, **EXAMPLE_MARKET_CONFIG, "event_ticker": event_ticker}
        )
    if store.load_global_config_item() is None:
        store.set_global_fields(EXAMPLE_GLOBAL_CONFIG)
    return len(tickers)
