"""`dora bench`: batch vs per-market execution on the same seeded local exchange.

Each mode gets a fresh local exchange (same seed, same latency, the tier asked for) and local
DynamoDB, each in a process of its own (:mod:`dora.cli.bench_stack`): what the bench process
measures is dora's own work. dora logs at INFO, as in production (to a file). The outside flow is
off, so no trade happens and both modes see identical markets; before every cycle a bench maker
moves every market's book by one cent, so each cycle is a full requote: every quote of every market
is cancelled and replaced. Loop cadences are production's (a state save every 5 cycles, configs
every 5, positions every 5, public trades every 12).

Reported per mode: API requests and tokens per cycle; median and p95 cycle time; the cycle's
physical floor (:mod:`dora.cli.bench_floor`) and the ratio of the median cycle to the median floor;
the median cycle without the time dora waited for the local DynamoDB (``bot_ms_p50``) and that wait
(``dynamodb_ms_p50``: the loop's own thread's waits, such as the state saves; the operator items'
read goes out on a pool thread beside the exchange reads and is not in it, which is right while
the exchange reads take longer: at 20 ms of latency they take 25-28 ms, that read ~17 ms); the CPU
time of the bench process per cycle (``cpu_ms_per_cycle``: dora's loop, request threads and log
writer, the exchange and DynamoDB running elsewhere; from the second cycle's start until the log
writer has written the last cycle's rows, over the cycles in between: what a task's CPU share pays
for each cycle, deploy/README.md#sizing); the median of each phase; cancel 404s and 429s (counted
by the exchange); cycles that failed (a state save that failed fails its cycle) and log rows
dropped.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.state import Mode
from dora.bot.status import CycleSummary
from dora.cli.app import Connection, build_client
from dora.cli.bench_floor import Buckets, Floor, cycle_floor
from dora.cli.bench_stack import BenchStack, bench_stack
from dora.cli.local import EXAMPLE_GLOBAL_CONFIG
from dora.core.errors import StoreError, TransientError
from dora.core.tiers import TIERS, Bucket
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials
from dora.runtime.clock import SystemClock
from dora.runtime.logs import new_run_id, setup_logging
from dora.sim.engine.flow import FLOW_MAKER

BENCH_MAKER = "bench-maker"
BENCH_MARKET_CONFIG: dict[str, Any] = {
    "enabled": True, "quote_size": Decimal("5"), "min_spread": Decimal("0.02"),
    "max_inventory_yes": Decimal("100"), "max_inventory_no": Decimal("100"),
    "inventory_skew_factor": Decimal("0.25"), "tight_book_spread": Decimal("0.02"),
    "volatility_gate": False,
}
PHASES = ("reads", "compute", "cancels", "places", "persist")
LOG_FLUSH_S = 120.0  # the log writer's last rows, before the CPU time is read


@dataclass(frozen=True, slots=True)
class ModeResult:
    requests_per_cycle: float
    tokens_per_cycle: float
    cycle_ms_p50: int
    cycle_ms_p95: int
    floor_ms_p50: int
    ratio_to_floor: float
    round_trips_p50: int
    bot_ms_p50: int
    dynamodb_ms_p50: int
    cpu_ms_per_cycle: int
    reads_ms_p50: int
    compute_ms_p50: int
    cancels_ms_p50: int
    places_ms_p50: int
    persist_ms_p50: int
    cancel_404s: int
    rate_limited_429s: int
    orders_placed: int
    orders_cancelled: int
    failed_cycles: int
    log_rows_dropped: int

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Measured:
    summary: CycleSummary
    floor: Floor


def percentile(values: list[int], pct: int) -> int:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, (len(ordered) * pct + 99) // 100 - 1))
    return ordered[index]


def _move_books(stack: BenchStack, tickers: list[str], cycle: int) -> None:
    """The only liquidity: the bench maker's quote 10c either side of each market's fair value,
    shifted one cent every cycle (the seeded outside ladders are cleared the first time)."""
    stack.sim.control("/maker_quotes", {
        "maker": BENCH_MAKER, "tickers": tickers, "half_spread": "0.10",
        "offset": "0.01" if cycle % 2 else "0", "count": "100.00",
        "clear": [FLOW_MAKER] if cycle == 0 else [],
    })


def _prepare(stack: BenchStack, client: KalshiClient, markets: int) -> list[str]:
    tickers = sorted(m.ticker for m in client.fetch_markets(status="open"))[:markets]
    for ticker in tickers:
        stack.store.put_market_config_item({"market_id": ticker, **BENCH_MARKET_CONFIG})
    stack.store.set_global_fields({**EXAMPLE_GLOBAL_CONFIG, "loop_interval_ms": Decimal(0),
                                   "max_total_exposure": Decimal("1000000")})
    return tickers


def run_mode(mode: Mode, *, markets: int, cycles: int, seed: int, latency_ms: int,
             tier: str) -> ModeResult:
    clock = SystemClock()
    run_id = new_run_id(clock)
    with bench_stack(clock, markets=markets, seed=seed, latency_ms=latency_ms,
                     tier=tier) as stack:
        key = Path(stack.sim.private_key_path).read_bytes()
        client = build_client(Connection(stack.sim.url,
                                         Credentials.from_pem(stack.sim.key_id, key)), tier, clock)
        tickers = _prepare(stack, client, markets)
        logger = logging.getLogger("dora.bench")
        bot = Bot(client, Persister(stack.store, logger, run_id), clock, logger,
                  LoopSettings(default_mode=mode, interval_ms=0), run_id, threading.Event())
        bot.startup()
        before = stack.sim.control("/counters")
        measured, failed, steady_from = _cycles(bot, stack, tickers, cycles, latency_ms)
        if not bot.persister.flush_logs(LOG_FLUSH_S):
            click.echo(f"the log writer did not drain in {LOG_FLUSH_S:.0f} s: cpu_ms_per_cycle "
                       f"leaves its backlog out", err=True)
        cpu_ms = (time.process_time() - steady_from) * 1000
        after = stack.sim.control("/counters")
        bot.shutdown(reason="bench")
        client.close()
    return _result(measured, failed, before, after, round(cpu_ms / (cycles - 1)))


def _cycles(bot: Bot, stack: BenchStack, tickers: list[str], cycles: int,
            latency_ms: int) -> tuple[list[Measured], int, float]:
    """The cycles measured, the cycles that failed, and the process's CPU time as the second
    cycle started (the first places into empty books)."""
    measured: list[Measured] = []
    failed = 0
    client = bot.client
    steady_from = time.process_time()
    for cycle in range(cycles):
        if cycle == 1:
            steady_from = time.process_time()
        _move_books(stack, tickers, cycle)
        limiter = client.limiter
        buckets = Buckets(limiter.available(Bucket.WRITE), limiter.rate(Bucket.WRITE),
                          limiter.available(Bucket.READ), limiter.rate(Bucket.READ))
        stats_before = client.stats.snapshot()
        try:
            summary = bot.run_cycle()
        except (TransientError, StoreError) as exc:
            failed += 1
            click.echo(f"cycle {cycle + 1} failed: {exc}", err=True)
            continue
        floor = cycle_floor(client.stats.since(stats_before), latency_ms, buckets)
        measured.append(Measured(summary, floor))
    return measured, failed, steady_from


def _result(measured: list[Measured], failed: int, before: dict[str, Any],
            after: dict[str, Any], cpu_ms_per_cycle: int) -> ModeResult:
    if not measured:
        raise click.ClickException("every cycle failed")
    steady = measured[1:] or measured  # the first cycle places into empty books
    summaries = [m.summary for m in steady]

    def p50(values: list[int]) -> int:
        return percentile(values, 50)

    cycle_p50 = p50([s.duration_ms for s in summaries])
    floor_p50 = p50([round(m.floor.ms) for m in steady])
    phases = {name: p50([getattr(s, f"{name}_ms") for s in summaries]) for name in PHASES}
    return ModeResult(
        requests_per_cycle=round(statistics.fmean(s.requests for s in summaries), 1),
        tokens_per_cycle=round(statistics.fmean(s.tokens for s in summaries), 1),
        cycle_ms_p50=cycle_p50, cycle_ms_p95=percentile([s.duration_ms for s in summaries], 95),
        floor_ms_p50=floor_p50, ratio_to_floor=round(cycle_p50 / max(floor_p50, 1), 2),
        round_trips_p50=p50([m.floor.round_trips for m in steady]),
        bot_ms_p50=p50([s.duration_ms - s.dynamodb_ms for s in summaries]),
        dynamodb_ms_p50=p50([s.dynamodb_ms for s in summaries]),
        cpu_ms_per_cycle=cpu_ms_per_cycle,
        **{f"{name}_ms_p50": value for name, value in phases.items()},
        cancel_404s=int(after.get("cancel_404", 0)) - int(before.get("cancel_404", 0)),
        rate_limited_429s=_status(after, "429") - _status(before, "429"),
        orders_placed=sum(m.summary.placed for m in measured),
        orders_cancelled=sum(m.summary.cancelled for m in measured),
        failed_cycles=failed, log_rows_dropped=sum(m.summary.log_dropped for m in measured),
    )


def _status(counters: dict[str, Any], code: str) -> int:
    return int(counters.get("status", {}).get(code, 0))


def _table(results: dict[str, ModeResult]) -> str:
    rows = [("", "batch", "per_market")]
    for name in ModeResult.__slots__:
        rows.append((name, str(getattr(results["batch"], name)),
                     str(getattr(results["per_market"], name))))
    return "\n".join(f"{a:<22}{b:>14}{c:>14}" for a, b, c in rows)


@click.command()
@click.option("--markets", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--cycles", type=click.IntRange(2, 1000), default=20, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--latency-ms", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--tier", type=click.Choice(list(TIERS)), default="prestige", show_default=True,
              help="Rate-limit tier for both the exchange and the client.")
@click.option("--mode", "modes", type=click.Choice(["batch", "per_market"]), multiple=True,
              help="Run only these modes (default: both).")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where dora's INFO log goes (default: discarded after the run).")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object line.")
def bench(markets: int, cycles: int, seed: int, latency_ms: int, tier: str,
          modes: tuple[str, ...], log_file: Path | None, as_json: bool) -> None:
    """Batch vs per-market: API requests, tokens and cycle time for a full requote, against
    the cycle's physical floor."""
    with (log_file or Path(os.devnull)).open("a", encoding="utf-8") as log:
        setup_logging(service="dora-bench", env="sim", run_id="bench", version="bench",
                      level=logging.INFO, stream=log)
        results = {
            mode.value: run_mode(mode, markets=markets, cycles=cycles, seed=seed,
                                 latency_ms=latency_ms, tier=tier)
            for mode in (Mode.BATCH, Mode.PER_MARKET) if not modes or mode.value in modes
        }
    click.echo(f"dora bench: {markets} markets, {cycles} cycles, latency {latency_ms} ms, "
               f"tier {tier}, seed {seed}")
    if len(results) == 2:
        click.echo(_table(results))
        batch, per_market = results["batch"], results["per_market"]
        fewer = 1 - batch.requests_per_cycle / max(per_market.requests_per_cycle, 1)
        faster = per_market.cycle_ms_p50 / max(batch.cycle_ms_p50, 1)
        click.echo(f"batch: {fewer:.0%} fewer requests per cycle, {faster:.1f}x faster median "
                   f"cycle")
    else:
        for mode, result in results.items():
            click.echo("\n".join(f"{mode} {k:<22}{v:>14}" for k, v in result.as_dict().items()))
    if as_json:
        click.echo(json.dumps({k: v.as_dict() for k, v in results.items()}))
