"""Shared fixtures: a local Kalshi exchange (``dora.sim``) in-process on a loopback port, a local
DynamoDB endpoint (moto), and the bot wired to both as in production (``bot_env_factory``)."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.state import Mode
from dora.cli.app import Connection, build_client
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials
from dora.runtime.clock import Clock, FakeClock
from dora.runtime.logs import setup_logging
from dora.sim.runner import RunningSim, SimSettings, start_sim
from dora.store.localdb import start_local_dynamodb
from dora.store.store import Store, make_dynamodb_resource

SIM_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1", "port": 0, "seed": 7, "markets": 5, "flow": True,
}


@pytest.fixture
def sim_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningSim]]:
    """``sim_factory(clock=None, **settings_overrides)`` starts a sim; all stop after the test."""
    started: list[RunningSim] = []

    def start(*, clock: Clock | None = None, **overrides: Any) -> RunningSim:
        settings = SimSettings(**{**SIM_DEFAULTS, **overrides})
        key_dir: Path = tmp_path_factory.mktemp("sim-keys")
        sim = start_sim(settings, clock=clock, key_dir=key_dir)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., RunningSim]) -> RunningSim:
    """A sim with the defaults (seed 7, 5 markets, outside flow on, basic tier), stopped after."""
    return sim_factory()


MARKET_CONFIG: dict[str, Any] = {
    "enabled": True,
    "quote_size": Decimal("5"),
    "min_spread": Decimal("0.02"),
    "max_inventory_yes": Decimal("20"),
    "max_inventory_no": Decimal("20"),
    "inventory_skew_factor": Decimal("0.25"),
}
GLOBAL_CONFIG: dict[str, Any] = {
    "max_total_exposure": Decimal("1000"),
    "max_daily_loss": Decimal("1000"),
    "trading_enabled": True,
    "loop_interval_ms": Decimal("0"),
    "cancel_on_startup": True,
    "config_refresh_cycles": Decimal("2"),
}


@pytest.fixture(scope="session")
def dynamo_endpoint() -> Iterator[str]:
    local = start_local_dynamodb()
    yield local.endpoint_url
    local.stop()


@dataclass
class BotEnv:
    sim: RunningSim
    store: Store
    client: KalshiClient
    env_name: str
    tickers: list[str]
    clock: FakeClock
    dynamo_endpoint: str
    bots: list[Bot] = field(default_factory=list)

    def operator_store(self) -> Store:
        """The tables as another process (an operator's `dora halt`) sees them."""
        return Store(make_dynamodb_resource(self.dynamo_endpoint, "us-east-1"), self.env_name,
                     self.clock)

    def make_bot(self, mode: Mode = Mode.BATCH, **overrides: Any) -> Bot:
        clock = self.clock
        logger = logging.getLogger("dora.test")
        run_id = f"20260101-000000-{len(self.bots):06x}"
        settings = LoopSettings(default_mode=mode, interval_ms=0, **overrides)
        store = self.operator_store()  # its own, as each process has (versions, lease fence)
        bot = Bot(self.client, Persister(store, logger, run_id), clock, logger, settings,
                  run_id, threading.Event())
        self.bots.append(bot)
        return bot

    def start_after_a_kill(self, bot: Bot) -> None:
        """Start ``bot`` where an earlier bot was killed (never stopped): it stands by until
        the dead holder's lease has run out on its own clock, then takes over."""
        bot.startup()
        assert bot.lease.held is None, "a live lease was taken at once"
        self.clock.advance_ms(bot.lease.lease_ms)
        bot.startup()
        assert bot.lease.held is not None and bot.taken_over

    def cycles(self, bot: Bot, count: int, step_ms: int = 1000) -> list[Any]:
        """Run ``count`` cycles, moving simulated time ``step_ms`` after each."""
        summaries = []
        for _ in range(count):
            summaries.append(bot.run_cycle())
            self.clock.advance_ms(step_ms)
        return summaries

    def sim_counters(self) -> dict[str, Any]:
        response = requests.get(f"{self.sim.control_url}/counters", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def set_knobs(self, **knobs: Any) -> None:
        response = requests.post(f"{self.sim.control_url}/knobs", json=knobs, timeout=5)
        response.raise_for_status()

    def resting(self, prefix: str = "dora-") -> list[Any]:
        with self.sim.lock:
            orders = self.sim.engine.orders("dora", status=None)
        return [o for o in orders if o.status.value == "resting"
                and o.client_order_id.startswith(prefix)]


_counter = iter(range(10**6))


@pytest.fixture
def bot_env_factory(sim_factory: Callable[..., RunningSim],
                    dynamo_endpoint: str) -> Callable[..., BotEnv]:
    def make(markets: int = 3, **sim_settings: Any) -> BotEnv:
        clock = FakeClock()
        sim = sim_factory(markets=markets, clock=clock, tier="prestige", **sim_settings)
        env_name = f"t{next(_counter)}"
        store = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), env_name, clock)
        store.create_tables()
        key = Path(sim.private_key_path or "").read_bytes()
        client = build_client(Connection(sim.url, Credentials.from_pem(sim.key_id, key)),
                              "prestige", clock)
        tickers = sorted(m.ticker for m in client.fetch_markets(status="open"))[:markets]
        if not sim_settings.get("flow", True):
            with sim.lock:
                for ticker in tickers:
                    sim.engine.seed_book(ticker)  # a static outside book to quote against
        for ticker in tickers:
            store.put_market_config_item({"market_id": ticker, **MARKET_CONFIG})
        store.set_global_fields(GLOBAL_CONFIG)
        return BotEnv(sim, store, client, env_name, tickers, clock, dynamo_endpoint)

    return make


@contextmanager
def captured_json_logs(*, env: str = "sim", run_id: str = "run-test", service: str = "dora-bot",
                       version: str = "test", level: int = logging.INFO,
                       ) -> Iterator[io.StringIO]:
    """dora's JSON log handler writing into a StringIO, as production writes stdout; removed and
    the root level restored afterwards."""
    out = io.StringIO()
    root = logging.getLogger()
    previous_level = root.level
    setup_logging(service=service, env=env, run_id=run_id, version=version, stream=out,
                  level=level)
    try:
        yield out
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_dora_json_handler", False):
                root.removeHandler(handler)
        root.setLevel(previous_level)
