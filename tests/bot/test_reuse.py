"""Reuse across cycles changes nothing but the time it takes (docs/architecture.md#reuse): a
planner that keeps last cycle's results decides, diffs and approves every cycle exactly as a new
planner that works everything out afresh, whichever inputs change between cycles (books, public
trades, positions, market configs and strategies, market rules, the global config, and the time,
in steps from a second to twenty minutes, so trades leave the strategy's windows and closing
rules and close guards start)."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field, replace

import pytest

from dora.bot import planning
from dora.bot.planning import Planner, QuoteOutcome, QuoteSettings, cycle_markets
from dora.bot.state import BotState
from dora.bot.strategies import StrategyRegistry
from dora.cli.bench_core import (
    NOW_MS,
    PREFIX,
    World,
    apply_plan,
    build_world,
    move_books,
    state_of,
)
from dora.core.diff import Plan
from dora.core.market_config import InvalidMarketConfig, MarketConfig
from dora.core.models import MarketRules, OrderBook, PositionState, PublicTrade, Side, TsMs
from dora.core.strategies import BUILTIN_STRATEGIES, QuoteDecision, QuoteInputs
from dora.core.strategies.base import ReuseKey, reuse_key
from dora.core.units import ONE_CONTRACT
from tests.bot.strategy_plugin import InsideTheTouch

MARKETS = 40
CYCLES = 60
SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
CHANGES = ("book", "trade", "position", "config", "rules")
STRATEGIES = (None, "microprice", "timeless")  # None: the global default, classic


class Timeless(InsideTheTouch):
    """A team's strategy that says its quotes never depend on the time: dora's own checks (the
    close guard) must still end their reuse."""

    def decide_until(self, inputs: QuoteInputs) -> tuple[QuoteDecision, TsMs | None]:
        return self.compute_quotes(inputs), None


def _planner() -> Planner:
    registry = StrategyRegistry({**BUILTIN_STRATEGIES, "timeless": Timeless()}, {})
    quiet = logging.getLogger("dora.test_reuse")
    quiet.disabled = True
    return Planner(quiet, QuoteSettings(PREFIX, None), registry)


@dataclass
class Run:
    """One planner's side of the comparison: the planner and the close walks it left."""

    planner: Planner
    walks: dict[str, object] = field(default_factory=dict)


def test_reused_results_decide_as_a_fresh_planner_would() -> None:
    for seed in (1, 2, 3):
        changes, reused, closes = _compare(seed)
        assert set(changes) == set(CHANGES), changes  # every kind of input changed
        assert reused > 0, "nothing was reused: the comparison proves nothing"
        assert closes > 0, "no close was decided: the exit policy's cache went untested"


def _compare(seed: int) -> tuple[Counter[str], int, int]:
    rng = random.Random(seed)
    world = build_world(MARKETS, seed)
    cached = Run(_planner())
    now_ms, guard_ms = NOW_MS, 0
    changes: Counter[str] = Counter()
    reused = closes = 0
    for cycle in range(1, CYCLES + 1):
        now_ms += rng.choice((SECOND_MS,) * 6 + (30 * SECOND_MS, 20 * MINUTE_MS))
        if rng.random() < 0.05:
            guard_ms = rng.choice((0, 5 * MINUTE_MS, 30 * MINUTE_MS, 30 * MINUTE_MS))
        changes += _change_markets(world, rng, now_ms)
        fresh = Run(_planner(), dict(cached.walks))
        mine = _cycle(cached, world, cycle, now_ms, guard_ms)
        theirs = _cycle(fresh, world, cycle, now_ms, guard_ms)
        assert mine[:3] == theirs[:3], f"seed {seed}, cycle {cycle}: reuse changed the outcome"
        assert cached.walks == fresh.walks
        reused += mine[3]
        closes += len(mine[1])
        apply_plan(world, mine[2])
    return changes, reused, closes


def _cycle(run: Run, world: World, cycle: int, now_ms: int, guard_ms: int
           ) -> tuple[dict[str, object], dict[str, object], Plan, int]:
    """The decisions, closes and approved plan of one cycle, and how many decisions were
    reused."""
    state = _state(world, cycle, guard_ms, run.walks)
    outcome = QuoteOutcome()
    markets = cycle_markets(state)
    view = run.planner.start_cycle(state, now_ms, f"c{cycle}", {}, markets)
    for ticker in markets:
        run.planner.decide(state, ticker, view, outcome)
    plan = run.planner.approve(run.planner.diff_batch(view, outcome), state, view, outcome)
    run.walks = dict(state.close_walks)
    return dict(outcome.decisions), dict(outcome.closes), plan, outcome.reused


def _state(world: World, cycle: int, guard_ms: int, walks: dict[str, object]) -> BotState:
    state = state_of(world, cycle)
    state.global_config = replace(state.global_config, close_guard_ms=guard_ms)
    state.close_walks.update(walks)  # type: ignore[arg-type]
    return state


def _change_markets(world: World, rng: random.Random, now_ms: int) -> Counter[str]:
    """Some markets' inputs change, each kind at its own rate."""
    made: Counter[str] = Counter()
    move_books(world, rng, 0.2)
    made["book"] += 1
    for ticker, market in world.markets.items():
        roll = rng.random()
        if roll < 0.05:
            price = market.outside.bids[0].price if market.outside.bids else 5000
            market.trades = (*market.trades[1:], PublicTrade(
                f"{ticker}-n{now_ms}", ticker, price, rng.randint(1, 30) * ONE_CONTRACT,
                rng.choice((Side.BID, Side.ASK)), now_ms))
            made["trade"] += 1
        elif roll < 0.09:
            net = rng.choice((0, rng.randint(-40, 40) * ONE_CONTRACT))
            market.position = PositionState(ticker, net=net, open_cost=abs(net) * 5000,
                                            opened_ms=now_ms - rng.randint(0, 2) * HOUR_MS
                                            if net else 0)
            made["position"] += 1
        elif roll < 0.12:
            market.config = replace(
                market.config, min_spread=rng.choice((200, 300, 400, 500)),
                levels=rng.choice((1, 2, 3)), volatility_gate=rng.random() < 0.5,
                max_hold_s=rng.choice((None, 600, 3600)),
                close_positions_before_s=rng.choice((None, 600, 3600)),
                strategy=rng.choice(STRATEGIES))
            made["config"] += 1
        elif roll < 0.14:
            market.rules = replace(market.rules, close_time_ms=now_ms + rng.choice(
                (10 * MINUTE_MS, 35 * MINUTE_MS, 40 * MINUTE_MS, HOUR_MS, 72 * HOUR_MS)))
            made["rules"] += 1
    return made


@pytest.mark.parametrize("seed", [4])
def test_the_comparison_fails_when_a_cache_ignores_an_input(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same comparison with the strategy's key missing the position: it must see that."""
    def without_position(rules: MarketRules, book: OrderBook, trades: tuple[PublicTrade, ...],
                         _position: PositionState, config: MarketConfig | InvalidMarketConfig,
                         guard_ms: int) -> ReuseKey:
        return reuse_key(rules, book, trades, PositionState(rules.ticker), config, guard_ms)

    monkeypatch.setattr(planning, "reuse_key", without_position)
    with pytest.raises(AssertionError, match="reuse changed the outcome"):
        _compare(seed)
