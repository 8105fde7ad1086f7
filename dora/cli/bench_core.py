"""Micro-benchmark of a batch cycle's compute phase: what the loop does between the reads and the
writes, for many markets.

Run ``python -m dora.cli.bench_core`` (``--markets``, ``--repetitions``, ``--seed``).

A seeded, realistic world: 1,000 markets quoted 3 levels a side, five-level books, a dozen recent
trades each, positions on a third of them, and dora's resting orders from the previous cycle
(most as wanted, some partly filled, some a tick off). Timed, with ``time.perf_counter``, is the
bot's own code for it (:class:`dora.bot.planning.Planner`, the same calls ``Quoter.quote_batch``
makes between reading the books and sending the plan): the resting orders grouped by market, the
books without dora's own orders, every market's strategy with dora's checks and the exit policy,
the diff, and the risk and cash checks. Not timed: the reads and writes, and building the state a
read would produce.

Three figures, each the min / median of the repetitions:

- ``cold``: nothing from an earlier cycle to reuse: every market worked out (as before any
  reuse; the figure the earlier benchmark printed, with the risk checks and the input building);
- ``all changed``: every market's book moved since the last cycle: every market worked out
  again and every quote replaced (a full requote);
- ``10% changed``: a tenth of the markets' books moved since the last cycle, the rest as they
  were (the steady state): the state is read afresh each cycle (new objects, equal values).

Between cycles the plan is applied as the exchange would (cancels gone, decreases shrunk, places
resting), so each cycle starts from the orders the last one left. Not a pure module: it reads the
clock to measure, nothing else.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from dora.bot.planning import Planner, QuoteOutcome, QuoteSettings, cycle_markets
from dora.bot.state import BotState
from dora.bot.strategies import StrategyRegistry
from dora.core.diff import Plan
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import (
    PRICE_LEVEL_STRUCTURES,
    Balance,
    Level,
    MarketRules,
    MarketStatus,
    OrderBook,
    PositionState,
    PublicTrade,
    RestingOrder,
    Side,
)
from dora.core.strategies import BUILTIN_STRATEGIES
from dora.core.units import ONE_CONTRACT, ONE_DOLLAR

NOW_MS = 1_767_225_600_000
HOUR_MS = 3_600_000
CYCLE_MS = 1_000
PREFIX = "dora-"
RICH = 10**15  # micro-dollars: the cash check passes, as on a large account


@dataclass
class Market:
    """One market as the exchange has it; ``outside`` is its book without dora's orders."""

    rules: MarketRules
    config: MarketConfig
    trades: tuple[PublicTrade, ...]
    position: PositionState
    outside: OrderBook
    step: int


@dataclass
class World:
    markets: dict[str, Market]
    resting: list[RestingOrder] = field(default_factory=list)
    orders_made: int = 0


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


def _market(rng: random.Random, index: int) -> Market:
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
    position = PositionState(ticker, net=net, open_cost=abs(net) * fair,
                             opened_ms=NOW_MS - HOUR_MS if net else 0)
    return Market(rules, config, _trades(rng, ticker, fair, step), position,
                  _book(rng, ticker, fair, step), step)


def build_world(markets: int, seed: int) -> World:
    """The world after one cycle: dora's orders are last cycle's targets, most as wanted, some
    partly filled, some one tick stale (as the earlier benchmark's world)."""
    rng = random.Random(seed)
    world = World({m.rules.ticker: m for m in (_market(rng, i) for i in range(markets))})
    planner = new_planner()
    state = state_of(world, 0)
    outcome = QuoteOutcome()
    tickers = cycle_markets(state)
    planner.plan_batch(state, planner.start_cycle(state, NOW_MS, "seed", {}, tickers), tickers,
                       outcome)
    for decision in outcome.decisions.values():
        for i, target in enumerate(decision.targets):
            roll = rng.random()
            remaining, price = target.size, target.price
            if roll < 0.15:
                remaining = max(target.size - rng.randint(1, 5) * ONE_CONTRACT, ONE_CONTRACT)
            elif roll < 0.25:
                price = target.price + (-10 if target.side is Side.BID else 10)
            world.resting.append(RestingOrder(
                f"{target.ticker}-o{i}", f"{PREFIX}prev-{target.ticker[-5:]}-{i}",
                target.ticker, target.side, price, remaining, target.size - remaining,
                created_ms=i))
    return world


def new_planner() -> Planner:
    logger = logging.getLogger("dora.bench_core")
    logger.disabled = True  # the loop logs only what changed; a benchmark's lines are noise
    return Planner(logger, QuoteSettings(PREFIX, None), StrategyRegistry(BUILTIN_STRATEGIES, {}))


def state_of(world: World, cycle: int) -> BotState:
    """What the reads give the loop at ``cycle``: books and resting orders as new objects (the
    exchange's answers parsed afresh); rules, configs, trades and positions as the loop keeps
    them between their own refreshes."""
    state = BotState()
    state.global_config = GlobalConfig(max_total_exposure=10**12)
    own: dict[str, list[RestingOrder]] = {}
    for order in world.resting:
        own.setdefault(order.ticker, []).append(order)
    for ticker, market in world.markets.items():
        state.rules[ticker] = market.rules
        state.configs[ticker] = market.config
        state.trades[ticker] = market.trades
        if market.position.net:
            state.positions[ticker] = market.position
        state.books[ticker] = _as_read(market.outside, own.get(ticker, ()))
    state.resting = [replace(o) for o in world.resting]
    state.balance = Balance(RICH, 0, NOW_MS + cycle * CYCLE_MS)
    return state


def _as_read(book: OrderBook, own: Sequence[RestingOrder]) -> OrderBook:
    """The book as the exchange shows it: dora's resting size added at its prices."""
    def side_levels(levels: tuple[Level, ...], side: Side) -> tuple[Level, ...]:
        sizes = {lv.price: lv.count for lv in levels}
        for order in own:
            if order.side is side:
                sizes[order.price] = sizes.get(order.price, 0) + order.remaining
        return tuple(Level(p, c) for p, c in sorted(sizes.items(), reverse=side is Side.BID))

    return OrderBook(book.ticker, side_levels(book.bids, Side.BID),
                     side_levels(book.asks, Side.ASK))


def move_books(world: World, rng: random.Random, share: float) -> None:
    """The outside books of ``share`` of the markets move one tick up or down."""
    for market in world.markets.values():
        if rng.random() < share:
            shift = rng.choice((-1, 1)) * market.step
            old = market.outside
            prices = [lv.price for lv in (*old.bids, *old.asks)]
            if min(prices) + shift <= 0 or max(prices) + shift >= ONE_DOLLAR:
                shift = -shift  # a book stays inside (0, $1), as the exchange's do
            market.outside = OrderBook(old.ticker,
                                       tuple(Level(lv.price + shift, lv.count) for lv in old.bids),
                                       tuple(Level(lv.price + shift, lv.count) for lv in old.asks))


def apply_plan(world: World, plan: Plan) -> None:
    """The exchange takes the plan: cancels go, decreases shrink their order, places rest."""
    gone = {o.order_id for o in plan.cancels}
    cut = {d.order.order_id: d.reduce_to for d in plan.decreases}
    kept = [o for o in world.resting if o.order_id not in gone]
    world.resting = [replace(o, remaining=cut[o.order_id]) if o.order_id in cut else o
                     for o in kept]
    for request in plan.places:
        world.orders_made += 1
        world.resting.append(RestingOrder(
            f"bench-{world.orders_made}", request.client_order_id, request.ticker, request.side,
            request.price, request.count, created_ms=world.orders_made))


@dataclass(frozen=True, slots=True)
class Timings:
    total: list[float]
    phases: dict[str, list[float]]
    reused: int


def run_cycles(world: World, repetitions: int, *, share: float, seed: int, cold: bool,
               warmup: int = 0) -> Timings:
    """``warmup`` + ``repetitions`` cycles, the later timed. Before each, ``share`` of the books
    move. ``cold``: a new planner every cycle and the same world each time (nothing applied);
    else one planner throughout and each cycle's plan applied before the next."""
    rng = random.Random(seed)
    planner = new_planner()
    total: list[float] = []
    phases: dict[str, list[float]] = {"inputs": [], "decisions": [], "diff": [], "risk": []}
    reused = 0
    for cycle in range(1, warmup + repetitions + 1):
        move_books(world, rng, share)
        state = state_of(world, cycle)
        if cold:
            planner = new_planner()
        outcome = QuoteOutcome()
        marks = [time.perf_counter()]
        markets = cycle_markets(state)
        view = planner.start_cycle(state, NOW_MS + cycle * CYCLE_MS, f"b{cycle}", {}, markets)
        marks.append(time.perf_counter())
        for ticker in markets:
            planner.decide(state, ticker, view, outcome)
        marks.append(time.perf_counter())
        plan = planner.diff_batch(view, outcome)
        marks.append(time.perf_counter())
        approved = planner.approve(plan, state, view, outcome)
        marks.append(time.perf_counter())
        if not cold:
            apply_plan(world, approved)
        if cycle <= warmup:
            continue
        total.append((marks[-1] - marks[0]) * 1000.0)
        for name, start, end in zip(phases, marks, marks[1:], strict=False):
            phases[name].append((end - start) * 1000.0)
        reused += outcome.reused
    return Timings(total, phases, reused)


def _figure(values: list[float]) -> str:
    return f"min {min(values):6.2f} ms, median {statistics.median(values):6.2f} ms"


def report(label: str, timings: Timings, markets: int) -> None:
    runs = len(timings.total)
    print(f"{label:<34} {_figure(timings.total)}   ({timings.reused / max(runs, 1):.0f} of "
          f"{markets} decisions reused per cycle)")
    print("    " + "; ".join(f"{name} {min(v):.2f}/{statistics.median(v):.2f}"
                             for name, v in timings.phases.items()) + "  (ms, min/median)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    reps, seed, markets = args.repetitions, args.seed, args.markets
    base = build_world(markets, seed)
    print(f"{markets} markets x 3 levels, {len(base.resting)} resting orders, "
          f"{reps} cycles per figure")
    run_cycles(_copy(base), 3, share=0.0, seed=seed, cold=True)  # warm the grid tables
    report("cold (nothing reused)",
           run_cycles(_copy(base), reps, share=0.0, seed=seed, cold=True), markets)
    report("all changed (every book moved)",
           run_cycles(_copy(base), reps, share=1.0, seed=seed, cold=False, warmup=1), markets)
    report("10% changed (a tenth moved)",
           run_cycles(_copy(base), reps, share=0.1, seed=seed, cold=False, warmup=3), markets)


def _copy(world: World) -> World:
    return World({t: replace(m) for t, m in world.markets.items()}, list(world.resting),
                 world.orders_made)


if __name__ == "__main__":
    main()
