"""Conservation: cash + fees collected + $1 x open interest never changes before settlement."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from dora.core.models import OrderStatus, SelfTradePrevention, Side, TimeInForce
from dora.core.units import ONE_DOLLAR
from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import EngineError
from tests.sim.engine.helpers import DAY_MS, MAKER, TAKER_AT_CROSS, TICKER, req

USERS = ("u0", "u1", "u2")
START_CASH = 50 * 1_000_000
SIDES = (Side.BID, Side.ASK)
STPS = (TAKER_AT_CROSS, MAKER)


@dataclass(frozen=True)
class Place:
    user: str
    side: Side
    cents: int
    contracts: int
    tif: TimeInForce
    post_only: bool
    stp: SelfTradePrevention


@dataclass(frozen=True)
class Cancel:
    pick: int


@dataclass(frozen=True)
class Amend:
    pick: int
    cents: int
    contracts: int


Action = Place | Cancel | Amend

cents_st = st.integers(44, 56)
contracts_st = st.integers(1, 8)
actions_st = st.lists(st.one_of(
    st.builds(Place, st.sampled_from(USERS), st.sampled_from(SIDES), cents_st, contracts_st,
              st.sampled_from(list(TimeInForce)), st.booleans(), st.sampled_from(STPS)),
    st.builds(Cancel, st.integers(0, 50)),
    st.builds(Amend, st.integers(0, 50), cents_st, contracts_st),
), min_size=10, max_size=60)


def _apply(engine: Engine, placed: list[tuple[str, str]], action: Action) -> None:
    try:
        if isinstance(action, Place):
            post_only = action.post_only and action.tif is TimeInForce.GTC
            order = engine.create_order(action.user, req(
                action.side, action.cents * 100, action.contracts * 100, action.tif,
                stp=action.stp, post_only=post_only))
            placed.append((action.user, order.order_id))
        elif placed:
            user, order_id = placed[action.pick % len(placed)]
            if isinstance(action, Cancel):
                engine.cancel_order(user, order_id)
                return
            current = engine.order(user, order_id)
            engine.amend_order(user, order_id, ticker=TICKER, side=current.side,
                               price=action.cents * 100,
                               count=current.filled + action.contracts * 100)
    except EngineError:
        pass


def _run_and_check(actions: list[Action]) -> int:
    """Apply the actions, checking invariants after each; returns the number of trades."""
    clock = FakeClock()
    engine = Engine(clock, seed=0)
    engine.configure_flow(None, enabled=False)
    engine.add_market(TICKER, close_ms=clock.now_ms() + DAY_MS)
    for user in USERS:
        engine.open_account(user, START_CASH)
    placed: list[tuple[str, str]] = []
    for action in actions:
        clock.advance_ms(7)
        _apply(engine, placed, action)
        assert all(engine.balance(u).balance >= 0 for u in USERS)
        bids, asks = engine.book(TICKER)
        assert not bids or not asks or bids[0][0] < asks[0][0]
    _check_conservation(engine)
    return engine.counters()["trades"]


def _check_conservation(engine: Engine) -> None:
    for user in USERS:
        assert all(o.remaining > 0 for o in engine.orders(user, status=OrderStatus.RESTING))
        engine.cancel_all(user)
    positions = [p.position for u in USERS for p in engine.positions(u)]
    assert sum(positions) == 0
    open_interest = sum(p for p in positions if p > 0)
    cash = sum(engine.balance(u).balance for u in USERS)
    fees = engine.counters()["fees_collected"]
    assert cash + fees + ONE_DOLLAR * open_interest == START_CASH * len(USERS)


@settings(max_examples=150, deadline=None)
@given(actions_st)
def test_cash_fees_and_open_interest_are_conserved(actions: list[Action]) -> None:
    _run_and_check(actions)


def _random_actions(rng: random.Random, size: int) -> list[Action]:
    actions: list[Action] = []
    for _ in range(size):
        roll = rng.randrange(10)
        if roll < 6:
            actions.append(Place(rng.choice(USERS), rng.choice(SIDES), rng.randint(44, 56),
                                 rng.randint(1, 8), rng.choice(list(TimeInForce)),
                                 rng.randrange(10) < 3, rng.choice(STPS)))
        elif roll < 8:
            actions.append(Cancel(rng.randrange(50)))
        else:
            actions.append(Amend(rng.randrange(50), rng.randint(44, 56), rng.randint(1, 8)))
    return actions


def test_conservation_over_long_random_sequences() -> None:
    trades = sum(_run_and_check(_random_actions(random.Random(seed), 300)) for seed in range(8))
    assert trades > 100  # the sequences really trade
