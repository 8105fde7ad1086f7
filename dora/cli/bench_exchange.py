"""Benchmark (not a test): how close the client gets to a tier's write budget.

``python -m dora.cli.bench_exchange`` starts the local simulator in-process (tier Basic by default,
outside flow off so nothing fills), then for a sustained burst sends batch creates and batch
cancels through one KalshiClient as fast as its rate limiter allows. It prints the write tokens
per second the exchange billed, as a fraction of the tier's write budget, in steady state (after
the initial full bucket is spent) and overall, and the 429s seen by the client and the sim.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import click
import requests

from dora.core.models import CancelStatus, OrderRequest, PlaceStatus, Side
from dora.core.tiers import Bucket, bucket_for, tier_named
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials
from dora.exchange.ratelimit import RateLimiter
from dora.exchange.stats import ApiStats, EndpointStats
from dora.runtime.clock import Clock, SystemClock
from dora.sim.runner import SimSettings, start_sim

TICKER = "SIM-MKT-00"  # linear_cent
PRICES = tuple(range(100, 1000, 100))  # $0.01..$0.09 bids: far below anything that trades
ORDER_COUNT = 100  # one contract
CANCEL_BATCH = 20


@dataclass
class Tally:
    placed: int = 0
    rejected: int = 0
    unknown: int = 0
    cancelled: int = 0
    cancel_failed: int = 0


def write_tokens(stats: ApiStats) -> EndpointStats:
    total = EndpointStats()
    for key, entry in stats.snapshot().items():
        method, template = key.split(" ", 1)
        if bucket_for(method, template) is Bucket.WRITE:
            total = EndpointStats(
                calls=total.calls + entry.calls, tokens=total.tokens + entry.tokens,
                rate_limited=total.rate_limited + entry.rate_limited,
                errors=total.errors + entry.errors, not_found=total.not_found + entry.not_found,
                latency_ms_total=total.latency_ms_total + entry.latency_ms_total,
            )
    return total


class Burst:
    """Keeps the write bucket busy: batches of creates, and a batch cancel whenever 20 rest."""

    def __init__(self, client: KalshiClient) -> None:
        self.client = client
        self.tally = Tally()
        self.resting: deque[str] = deque()
        self.per_batch = client.batch_size(Bucket.WRITE, 10)
        self.sent = 0

    def step(self) -> None:
        if len(self.resting) >= CANCEL_BATCH:
            ids = [self.resting.popleft() for _ in range(CANCEL_BATCH)]
            for result in self.client.cancel_orders(ids):
                ok = result.status in (CancelStatus.CANCELLED, CancelStatus.NOT_FOUND)
                self.tally.cancelled += ok
                self.tally.cancel_failed += not ok
            return
        batch = [OrderRequest(TICKER, Side.BID, PRICES[(self.sent + i) % len(PRICES)],
                              ORDER_COUNT, client_order_id=f"bench-{self.sent + i}")
                 for i in range(self.per_batch)]
        self.sent += len(batch)
        for place in self.client.place_orders(batch):
            self.tally.placed += place.status is PlaceStatus.PLACED
            self.tally.rejected += place.status is PlaceStatus.REJECTED
            self.tally.unknown += place.status is PlaceStatus.UNKNOWN
            if place.status is PlaceStatus.PLACED:
                self.resting.append(place.order_id)


def run_burst(
    client: KalshiClient, clock: Clock, seconds: float, warmup_s: float
) -> dict[str, float]:
    """Creates and cancels through ``client`` for ``seconds``; the billed write-token rates."""
    burst = Burst(client)
    start = clock.monotonic()
    while clock.monotonic() - start < warmup_s:
        burst.step()
    warm_tokens, warm_at = write_tokens(client.stats).tokens, clock.monotonic()
    while clock.monotonic() - start < seconds:
        burst.step()
    end = clock.monotonic()
    total = write_tokens(client.stats).tokens
    return {"elapsed_s": end - start, "tokens": total, "overall_rate": total / (end - start),
            "steady_rate": (total - warm_tokens) / (end - warm_at),
            "steady_window_s": end - warm_at, **vars(burst.tally)}


def sim_counters(control_url: str) -> dict[str, object]:
    answer = requests.get(f"{control_url}/counters", timeout=5)
    answer.raise_for_status()
    counters: dict[str, object] = answer.json()
    return counters


@click.command()
@click.option("--seconds", default=25.0, show_default=True, help="Length of the burst.")
@click.option("--warmup", default=3.0, show_default=True,
              help="Seconds excluded from the steady-state rate (the initial full bucket).")
@click.option("--tier", default="basic", show_default=True, help="Rate-limit tier of both sides.")
@click.option("--reserve-ms", default=50, show_default=True,
              help="Client bucket reserve in ms of refill (absorbs arrival jitter).")
@click.option("--max-batch", default=20, show_default=True)
def main(seconds: float, warmup: float, tier: str, reserve_ms: int, max_batch: int) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    clock = SystemClock()
    budget = tier_named(tier).write_rate
    with start_sim(SimSettings(tier=tier, flow=False, markets=1, seed=1)) as sim:
        key = Path(str(sim.private_key_path)).read_bytes()
        limiter = RateLimiter(tier_named(tier), clock, reserve_s=reserve_ms / 1000)
        client = KalshiClient(sim.url, Credentials.from_pem(sim.key_id, key), limiter, clock,
                              max_batch=max_batch)
        result = run_burst(client, clock, seconds, warmup)
        counters = sim_counters(sim.control_url)
    writes = write_tokens(client.stats)
    statuses = counters.get("status", {})
    sim_429 = statuses.get("429", 0) if isinstance(statuses, dict) else "?"
    click.echo(f"tier {tier}: write budget {budget} tokens/s; client reserve {reserve_ms} ms "
               f"(usable bucket {limiter.capacity(Bucket.WRITE)}); "
               f"{client.batch_size(Bucket.WRITE, 10)} creates / "
               f"{client.batch_size(Bucket.WRITE, 2)} cancels per batch")
    click.echo(f"burst {result['elapsed_s']:.1f} s: {writes.calls} write requests, "
               f"{int(result['tokens'])} tokens billed, placed {result['placed']}, "
               f"cancelled {result['cancelled']}, rejected {result['rejected']}, "
               f"unknown {result['unknown']}, cancel failures {result['cancel_failed']}")
    click.echo(f"steady state ({result['steady_window_s']:.1f} s after {warmup:.0f} s warm-up): "
               f"{result['steady_rate']:.2f} tokens/s = "
               f"{result['steady_rate'] / budget:.1%} of budget")
    click.echo(f"overall (incl. the initial bucket): {result['overall_rate']:.2f} tokens/s = "
               f"{result['overall_rate'] / budget:.1%} of budget")
    click.echo(f"429s: client saw {writes.rate_limited}, sim answered {sim_429}; mean write "
               f"latency {writes.latency_ms_total / max(writes.calls, 1):.1f} ms")


if __name__ == "__main__":
    main()
