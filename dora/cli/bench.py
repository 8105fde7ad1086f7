"""`dora bench`: batch vs per-market execution on the same seeded local exchange.

Each mode gets a fresh simulator (same seed, same latency) and local DynamoDB. The outside flow is
off from the start, so no trade happens and both modes see identical markets; instead, before
every cycle a bench maker moves every market's book by one tick, so each cycle
is a full requote: every quote of every market is cancelled and replaced. Reported per mode: API
requests and tokens per cycle, median and p95 cycle time, cancel 404s and 429s (counted by the
exchange).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import requests

from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.state import Mode
from dora.cli.app import Connection, build_client
from dora.cli.local import EXAMPLE_GLOBAL_CONFIG, local_environment
from dora.core.models import SelfTradePrevention, Side, TimeInForce
from dora.exchange.credentials import Credentials
from dora.runtime.clock import SystemClock
from dora.runtime.logs import new_run_id, setup_logging
from dora.sim.engine.flow import FLOW_MAKER
from dora.sim.engine.records import CreateOrder
from dora.sim.runner import RunningSim
from dora.store.store import Store

BENCH_MAKER = "bench-maker"
BENCH_MARKET_CONFIG: dict[str, Any] = {
    "enabled": True, "quote_size": Decimal("5"), "min_spread": Decimal("0.02"),
    "max_inventory_yes": Decimal("100"), "max_inventory_no": Decimal("100"),
    "inventory_skew_factor": Decimal("0.25"), "tight_book_spread": Decimal("0.02"),
    "volatility_gate": False,
}


@dataclass(frozen=True, slots=True)
class ModeResult:
    requests_per_cycle: float
    tokens_per_cycle: float
    cycle_ms_p50: int
    cycle_ms_p95: int
    cancel_404s: int
    rate_limited_429s: int
    orders_placed: int
    orders_cancelled: int

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def percentile(values: list[int], pct: int) -> int:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, (len(ordered) * pct + 99) // 100 - 1))
    return ordered[index]


def _move_books(sim: RunningSim, tickers: list[str], cycle: int) -> None:
    """The only liquidity: the bench maker's quote 10c either side of each market's fair value,
    shifted one cent every cycle."""
    shift = 100 * (cycle % 2)
    with sim.lock:
        sim.engine.cancel_all(BENCH_MAKER)
        for ticker in tickers:
            fair = sim.engine.fair_value(ticker) // 100 * 100
            for side, price in ((Side.BID, fair - 1000 + shift), (Side.ASK, fair + 1000 + shift)):
                sim.engine.create_order(BENCH_MAKER, CreateOrder(
                    ticker=ticker, side=side, price=price, count=10_000,
                    time_in_force=TimeInForce.GTC,
                    self_trade_prevention=SelfTradePrevention.MAKER,
                ))


def _prepare(sim: RunningSim, store: Store, markets: int) -> list[str]:
    with sim.lock:
        sim.engine.cancel_all(FLOW_MAKER)  # the seeded ladders: the bench maker alone sets books
        sim.engine.open_account(BENCH_MAKER, 10**15)
        tickers = [m.ticker for m in sim.engine.markets(status="open")][:markets]
    for ticker in tickers:
        store.put_market_config_item({"market_id": ticker, **BENCH_MARKET_CONFIG})
    store.set_global_fields({**EXAMPLE_GLOBAL_CONFIG, "max_total_exposure": Decimal("100000")})
    return tickers


def run_mode(mode: Mode, *, markets: int, cycles: int, seed: int, latency_ms: int,
             tier: str) -> ModeResult:
    clock = SystemClock()
    run_id = new_run_id(clock)
    with local_environment(clock, seed=seed, markets=markets, latency_ms=latency_ms,
                           tier=tier, flow=False) as local:
        tickers = _prepare(local.sim, local.store, markets)
        key = Path(local.sim.private_key_path or "").read_bytes()
        credentials = Credentials.from_pem(local.sim.key_id, key)
        client = build_client(Connection(local.sim.url, credentials), tier, clock)
        logger = logging.getLogger("dora.bench")
        settings = LoopSettings(default_mode=mode, interval_ms=0, trades_every=10**6,
                                positions_every=10**6, save_every=10**6)
        bot = Bot(client, Persister(local.store, logger, run_id), clock, logger, settings,
                  run_id, threading.Event())
        bot.startup()
        before = _sim_counters(local.sim)
        summaries = []
        for cycle in range(cycles):
            _move_books(local.sim, tickers, cycle)
            summaries.append(bot.run_cycle())
        after = _sim_counters(local.sim)
        bot.shutdown(reason="bench")
    steady = summaries[1:] or summaries
    return ModeResult(
        requests_per_cycle=round(sum(s.requests for s in steady) / len(steady), 1),
        tokens_per_cycle=round(sum(s.tokens for s in steady) / len(steady), 1),
        cycle_ms_p50=percentile([s.duration_ms for s in steady], 50),
        cycle_ms_p95=percentile([s.duration_ms for s in steady], 95),
        cancel_404s=after["cancel_404"] - before["cancel_404"],
        rate_limited_429s=after["429"] - before["429"],
        orders_placed=sum(s.placed for s in summaries),
        orders_cancelled=sum(s.cancelled for s in summaries),
    )


def _sim_counters(sim: RunningSim) -> dict[str, int]:
    counters = requests.get(f"{sim.control_url}/counters", timeout=5).json()
    return {"cancel_404": int(counters.get("cancel_404", 0)),
            "429": int(counters.get("status", {}).get("429", 0))}


def _table(results: dict[str, ModeResult]) -> str:
    rows = [("", "batch", "per_market")]
    for name in ModeResult.__slots__:
        rows.append((name, str(getattr(results["batch"], name)),
                     str(getattr(results["per_market"], name))))
    return "\n".join(f"{a:<22}{b:>14}{c:>14}" for a, b, c in rows)


@click.command()
@click.option("--markets", type=click.IntRange(1, 100), default=50, show_default=True)
@click.option("--cycles", type=click.IntRange(2, 1000), default=20, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--latency-ms", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--tier", default="prestige", show_default=True,
              help="Rate-limit tier for both the exchange and the client.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object line.")
def bench(markets: int, cycles: int, seed: int, latency_ms: int, tier: str,
          as_json: bool) -> None:
    """Batch vs per-market: API requests, tokens and cycle time for a full requote."""
    setup_logging(service="dora-bench", env="sim", run_id="bench", version="bench",
                  level=logging.WARNING)
    results = {
        mode.value: run_mode(mode, markets=markets, cycles=cycles, seed=seed,
                             latency_ms=latency_ms, tier=tier)
        for mode in (Mode.BATCH, Mode.PER_MARKET)
    }
    click.echo(f"dora bench: {markets} markets, {cycles} cycles, latency {latency_ms} ms, "
               f"tier {tier}, seed {seed}")
    click.echo(_table(results))
    batch, per_market = results["batch"], results["per_market"]
    fewer = 1 - batch.requests_per_cycle / max(per_market.requests_per_cycle, 1)
    faster = per_market.cycle_ms_p50 / max(batch.cycle_ms_p50, 1)
    click.echo(f"batch: {fewer:.0%} fewer requests per cycle, {faster:.1f}x faster median cycle")
    if as_json:
        click.echo(json.dumps({k: v.as_dict() for k, v in results.items()}))
