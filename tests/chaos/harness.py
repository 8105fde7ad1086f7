"""The chaos rig: real ``dora run`` processes against an in-process local exchange (whose engine
the checks read directly) and the session's local DynamoDB endpoint, each behind a proxy that can
stop answering. Everything random is drawn from the scenario's seed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from dora.core.models import OrderStatus
from dora.core.units import ONE_CONTRACT
from dora.runtime.clock import SystemClock
from dora.sim.runner import RunningSim
from dora.store.store import Store, make_dynamodb_resource
from dora.store.tables import TABLES, table_names
from tests.chaos.proxy import ChaosProxy, Mode
from tests.conftest import GLOBAL_CONFIG, MARKET_CONFIG

PREFIX = "dora-"
TABLE_ENV = "prod"  # the CLI takes only sim/demo/prod; other tests use sim and demo
USER = "dora"

Event = dict[str, Any]
SideKey = tuple[str, str]  # (ticker, side)


class DoraProcess:
    """One ``dora run`` process; its JSON log lines are collected as they arrive."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.events: list[Event] = []
        self.exit_s: float | None = None
        self.heartbeat: Path | None = None  # its DORA_HEARTBEAT_FILE
        self._log_path = log_path
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self._log_path.open("w", encoding="utf-8") as log:
            for line in self.proc.stdout:
                log.write(line)
                event = _parse(line)
                with self._changed:
                    if event is not None:
                        self.events.append(event)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return predicate(self.events)
                self._changed.wait(min(left, 0.2))
            return True

    def cycles(self) -> int:
        return sum(1 for e in list(self.events) if e.get("event_type") == "CYCLE_SUMMARY")

    def of_type(self, event_type: str) -> list[Event]:
        return [e for e in list(self.events) if e.get("event_type") == event_type]

    def pause(self) -> None:
        """SIGSTOP: the process freezes mid-whatever (its monotonic clock runs on)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)

    def terminate(self, timeout_s: float = 90) -> float:
        """SIGTERM; seconds until the process exited."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.exit_s = time.monotonic() - sent
        self._reader.join(timeout=10)
        return self.exit_s

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self._log_path.read_text(encoding="utf-8").splitlines()[-lines:])


def _parse(line: str) -> Event | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class Sample:
    ts_ms: int
    resting: dict[SideKey, int]
    # resting orders whose create answer dora never got: (market side, remaining, created at)
    unanswered: list[tuple[SideKey, int, int]] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # the exchange's, with ``resting``


@dataclass
class ChaosRig:
    """The local exchange and DynamoDB behind proxies, fresh tables, and the dora processes."""

    sim: RunningSim
    dynamo_endpoint: str
    workdir: Path
    markets: int
    interval_ms: int = 200
    takers_per_s: str = "3"  # per market: enough outside trades to fill dora often
    lease_ms: int = 4000  # a restart after a kill -9 waits this out
    tier: str = "prestige"  # the rate budget dora is told it has (the sim's own is set apart)
    market_config: Mapping[str, Any] = field(default_factory=dict)  # over MARKET_CONFIG
    global_config: Mapping[str, Any] = field(default_factory=dict)  # over GLOBAL_CONFIG
    processes: list[DoraProcess] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    sampling: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        sim_url = urlsplit(self.sim.url)
        self.exchange = ChaosProxy(sim_url.hostname or "", sim_url.port or 0)
        dynamo_url = urlsplit(self.dynamo_endpoint)
        self.dynamo = ChaosProxy(dynamo_url.hostname or "", dynamo_url.port or 0)
        self.url = f"http://127.0.0.1:{self.exchange.port}{sim_url.path}"
        self.resource = make_dynamodb_resource(self.dynamo_endpoint, "us-east-1")
        self.store = Store(self.resource, TABLE_ENV, SystemClock())
        self._fresh_tables()
        with self.sim.lock:
            self.tickers = sorted(m.ticker for m in self.sim.engine.markets(status="open"))
        for ticker in self.tickers[:self.markets]:
            self.store.put_market_config_item({"market_id": ticker, **MARKET_CONFIG,
                                               **self.market_config})
        self.store.set_global_fields({**GLOBAL_CONFIG, "loop_interval_ms":
                                      Decimal(self.interval_ms),
                                      "lease_duration_ms": Decimal(self.lease_ms),
                                      **self.global_config})
        response = requests.post(f"{self.sim.control_url}/flow", timeout=5,
                                 json={"enabled": True, "taker_rate_per_s": self.takers_per_s})
        response.raise_for_status()
        self.ready = self.workdir / "ready.json"
        self.ready.write_text(json.dumps({"url": self.url, "key_id": self.sim.key_id,
                                          "private_key_path": self.sim.private_key_path}))
        self._stopped = threading.Event()
        self._sampler = threading.Thread(target=self._sample_forever, daemon=True)
        self._sampler.start()

    def _fresh_tables(self) -> None:
        client = self.resource.meta.client
        for name in table_names(TABLE_ENV).values():
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.update_table(TableName=name, DeletionProtectionEnabled=False)
                client.delete_table(TableName=name)
        assert len(self.store.create_tables()) == len(TABLES)

    def close(self) -> None:
        self._stopped.set()
        for process in self.processes:
            if process.proc.poll() is None:
                process.proc.kill()
                process.proc.wait(timeout=30)
        self.exchange.close()
        self.dynamo.close()

    # -- processes ------------------------------------------------------------------------------
    def start_dora(self, *, shards: int | None = None) -> DoraProcess:
        number = len(self.processes)
        env = {**os.environ, "DORA_SIM_READY_FILE": str(self.ready), "DORA_TABLE_ENV": TABLE_ENV,
               "DORA_DYNAMODB_ENDPOINT": f"http://127.0.0.1:{self.dynamo.port}",
               "DORA_HEARTBEAT_FILE": str(self.workdir / f"heartbeat-{number}.json"),
               "PYTHONUNBUFFERED": "1"}
        args = [sys.executable, "-m", "dora.cli.main", "run", "--batch", "--env", "sim",
                "--url", self.url, "--tier", self.tier]
        if shards is not None:
            args += ["--shards", str(shards)]
        log_path = self.workdir / f"dora-{number}.log"
        process = DoraProcess(args, env, log_path)
        process.heartbeat = Path(env["DORA_HEARTBEAT_FILE"])
        self.processes.append(process)
        return process

    def all_events(self) -> list[Event]:
        return [e for p in self.processes for e in list(p.events)]

    # -- faults ---------------------------------------------------------------------------------
    def set_knobs(self, **knobs: Any) -> None:
        response = requests.post(f"{self.sim.control_url}/knobs", json=knobs, timeout=5)
        response.raise_for_status()

    def resize_quotes(self, quote_size: Decimal) -> None:
        """A new quote size for every market: dora replaces all its quotes at its next refresh."""
        for ticker in self.tickers[:self.markets]:
            self.store.put_market_config_item(
                {"market_id": ticker, **MARKET_CONFIG, **self.market_config,
                 "quote_size": quote_size})

    def cut_off(self, mode: Mode) -> None:
        """Make the exchange and DynamoDB stop answering (hang) or refuse connections."""
        self.exchange.set_mode(mode)
        self.dynamo.set_mode(mode)

    # -- the exchange's own state ---------------------------------------------------------------
    def resting(self) -> list[Any]:
        with self.sim.lock:
            orders = self.sim.engine.orders(USER, status=OrderStatus.RESTING)
        return [o for o in orders if o.client_order_id.startswith(PREFIX)]

    def _sample(self) -> Sample:
        lost = self.sim.context.counters.lost_creates()
        with self.sim.lock:  # orders and positions as of one moment: a fill moves size between
            now_ms, orders, positions = self.sim.clock.now_ms(), self.resting(), self.positions()
        unanswered = [((o.ticker, o.side.value), o.remaining, lost[o.order_id])
                      for o in orders if o.order_id in lost]
        return Sample(now_ms, _by_side(orders), unanswered, positions)

    def resting_by_side(self) -> dict[SideKey, int]:
        return _by_side(self.resting())

    def all_orders(self) -> list[Any]:
        """Every order of dora's the exchange knows, in any state."""
        with self.sim.lock:
            orders = self.sim.engine.orders(USER, status=None)
        return [o for o in orders if o.client_order_id.startswith(PREFIX)]

    def fills(self) -> list[Any]:
        with self.sim.lock:
            return list(self.sim.engine.fills(USER))

    def positions(self) -> dict[str, int]:
        with self.sim.lock:
            held = self.sim.engine.positions(USER)
        return {p.ticker: p.position for p in held if p.position}

    def inventory_caps(self) -> tuple[int, int]:
        """The (yes, no) inventory caps every market of the rig has, in count units."""
        config = {**MARKET_CONFIG, **self.market_config}
        yes, no = (int(Decimal(str(config[k])) * ONE_CONTRACT)
                   for k in ("max_inventory_yes", "max_inventory_no"))
        return yes, no

    def order_status(self, order_id: str) -> str:
        with self.sim.lock:
            return self.sim.engine.order(USER, order_id).status.value

    def _sample_forever(self) -> None:
        while not self._stopped.wait(0.1):
            if self.sampling.is_set():
                sample = self._sample()
                if self.sampling.is_set():
                    self.samples.append(sample)

    # -- what dora stored -----------------------------------------------------------------------
    def trade_log_fill_ids(self) -> Counter[str]:
        return Counter(str(item["fill_id"]) for item in self._scan("dora_trade_log"))

    def stored_positions(self) -> dict[str, int]:
        return {t: p.net for t, p in self.store.load_state().positions.items() if p.net}

    def decisions(self) -> list[dict[str, Any]]:
        return self._scan("dora_decision_log")

    def _scan(self, base: str) -> list[dict[str, Any]]:
        table = self.resource.Table(table_names(TABLE_ENV)[base])
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = table.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _by_side(orders: list[Any]) -> dict[SideKey, int]:
    """Resting size per (market, side)."""
    sizes: Counter[SideKey] = Counter()
    for order in orders:
        sizes[(order.ticker, order.side.value)] += order.remaining
    return dict(sizes)
