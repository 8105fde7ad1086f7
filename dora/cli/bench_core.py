"""Micro-benchmark of the pure core: targets + diff for many markets.

Run ``python -m dora.cli.bench_core``.

Builds a seeded, realistic world (1,000 markets, 3 levels a side, five-level books, a dozen
recent trades, positions on a third of the markets, dora's resting orders from the previous
cycle with some partially filled and some stale) and times ``compute_targets`` + ``diff_orders``
with ``time.perf_counter``. Not a pure module: it reads the clock to measure, nothing else.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dora.core.diff import diff_orders
from dora.core.market_config import MarketConfig
from dora.core.models import (
    PRICE_LEVEL_STRUCTURES,
    Level,
    MarketRules,
    MarketStatus,
    OrderBook,
    PositionState,
    PublicTrade,
    RestingOrder,
    Side,
)
from dora.core.strategies.base import QuoteInputs, TargetQuote, remove_own_orders
from dora.core.strategies.classic import compute_targets
from dora.core.units import ONE_CONTRACT

NOW_MS = 1_767_225_600_000
HOUR_MS = 3_600_000
PREFIX = "dora-"


@dataclass(frozen=True, slots=True)
class World:
    inputs: tuple[QuoteInputs, ...]
    resting: tuple[RestingOrder, ...]
    books: dict[str, OrderBook]
    managed: frozenset[str]


def _book(rng: random.Random, ticker: str, fair: int, step: int) -> OrderBook:
    half = rng.choice((2, 3, 4, 5, 8)) * step
    bids = tuple(Level(fair - half - i * step, rng.randint(1, 80) * ONE_CONTRACT) for i in range(5))
    asks = tuple(Level(fair + half + i * step, rng.randint(1, 80) * ONE_CONTRACT) for i in range(5))
    return OrderBook(ticker, bids, asks)


def _trades(rng: random.Random, ticker: str, fair: int, step: int) -> tuple[PublicTrade, ...]:
    return tuple(
        PublicTrade(f"{ticker}-t{i}", ticker, fair + rng.randint(-2, 2) * step,
                    rng.randint(1, 40) * ONE_CONTRACT, rng.choice((Side.BID, Side.ASK)),
                    NOW_MS - rng.randint(0, 30 * HOUR_MS))
        for i in range(12)
    )


def _market(rng: random.Random, index: int) -> QuoteInputs:
    ticker = f"KXBENCH-26JAN{index % 28 + 1:02d}-M{index:04d}"
    structure = rng.choice(("linear_cent", "linear_cent", "deci_cent", "tapered_deci_cent"))
    step = 100 if structure == "linear_cent" else (10 if structure == "deci_cent" else 100)
    fair = rng.randint(20, 80) * 100
    net = rng.choice((0, 0, rng.randint(-60, 60) * ONE_CONTRACT))
    rules = MarketRules(ticker, MarketStatus.ACTIVE, NOW_MS + 72 * HOUR_MS,
                        PRICE_LEVEL_STRUCTURES[structure], structure)
    config = MarketConfig(market_id=ticker, enabled=True, quote_size=10 * ONE_CONTRACT,
                          min_spread=rng.choice((200, 300, 400)), levels=3,
                          volatility_gate=rng.random() < 0.8)
    return QuoteInputs(
        rules, _book(rng, ticker, fair, step), _trades(rng, ticker, fair, step),
        PositionState(ticker, net=net, open_cost=abs(net) * fair), config, NOW_MS, 600_000,
    )


def _previous_orders(rng: random.Random, targets: Sequence[TargetQuote]) -> list[RestingOrder]:
    """Last cycle's orders: mostly unchanged, some partially filled, some one tick stale."""
    orders: list[RestingOrder] = []
    for i, t in enumerate(targets):
        roll = rng.random()
        remaining, price = t.size, t.price
        if roll < 0.15:
            remaining = max(t.size - rng.randint(1, 5) * ONE_CONTRACT, ONE_CONTRACT)
        elif roll < 0.25:
            price = t.price + (-10 if t.side is Side.BID else 10)
        orders.append(RestingOrder(f"{t.ticker}-o{i}", f"{PREFIX}prev-{t.ticker[-5:]}-{i}",
                                   t.ticker, t.side, price, remaining, t.size - remaining,
                                   created_ms=i))
    return orders


def build_world(markets: int, seed: int) -> World:
    rng = random.Random(seed)
    inputs = [_market(rng, i) for i in range(markets)]
    first = compute_targets(inputs)
    resting: list[RestingOrder] = []
    books: dict[str, OrderBook] = {}
    for market in inputs:
        own = _previous_orders(rng, first[market.rules.ticker].targets)
        resting.extend(own)
        books[market.rules.ticker] = _with_own(market.book, own)
    return World(tuple(inputs), tuple(resting), books, frozenset(i.rules.ticker for i in inputs))


def _with_own(book: OrderBook, own: Sequence[RestingOrder]) -> OrderBook:
    """The book as the exchange shows it: dora's size added at its prices."""
    def merged(levels: tuple[Level, ...], side: Side) -> tuple[Level, ...]:
        sizes = {lv.price: lv.count for lv in levels}
        for o in own:
            if o.side is side:
                sizes[o.price] = sizes.get(o.price, 0) + o.remaining
        return tuple(Level(p, c) for p, c in sorted(sizes.items(), reverse=side is Side.BID))

    return OrderBook(book.ticker, merged(book.bids, Side.BID), merged(book.asks, Side.ASK))


def run_cycle(world: World, with_books: bool) -> int:
    inputs: Sequence[QuoteInputs] = world.inputs
    if with_books:
        by_market: dict[str, list[RestingOrder]] = {}
        for order in world.resting:
            by_market.setdefault(order.ticker, []).append(order)
        inputs = [replace(i, book=remove_own_orders(world.books[i.rules.ticker],
                                                    by_market.get(i.rules.ticker, ())))
                  for i in world.inputs]
    decisions = compute_targets(inputs)
    plan = diff_orders(world.resting, {t: d.targets for t, d in decisions.items()},
                       managed=world.managed, id_prefix=PREFIX, id_salt="bench-1")
    return len(plan.places) + len(plan.cancels) + len(plan.decreases) + len(plan.kept)


def measure(world: World, repetitions: int, with_books: bool) -> list[float]:
    timings: list[float] = []
    for _ in range(repetitions):
        start = time.perf_counter()
        run_cycle(world, with_books)
        timings.append((time.perf_counter() - start) * 1000.0)
    return timings


def _summary(label: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{label}: median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, "
            f"min {ordered[0]:.2f} ms over {len(ordered)} runs")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    world = build_world(args.markets, args.seed)
    measure(world, 3, with_books=False)  # warm caches (grid tables)
    targets = sum(len(d.targets) for d in compute_targets(world.inputs).values())
    print(f"{args.markets} markets, {targets} targets, {len(world.resting)} resting orders")
    print(_summary("compute_targets + diff_orders", measure(world, args.repetitions, False)))
    print(_summary("remove_own_orders + compute_targets + diff_orders",
                   measure(world, args.repetitions, True)))


if __name__ == "__main__":
    main()
