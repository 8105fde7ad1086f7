from __future__ import annotations

import pytest

from dora.runtime.clock import FakeClock
from dora.sim.engine.engine import Engine
from tests.sim.engine.helpers import CASH, DAY_MS, TICKER


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Engine:
    """An engine with the outside flow off, one linear_cent market and two funded traders."""
    eng = Engine(clock, seed=3)
    eng.configure_flow(None, enabled=False)
    eng.add_market(TICKER, close_ms=clock.now_ms() + DAY_MS, event_ticker="EVT")
    for user in ("alice", "bob", "carol"):
        eng.open_account(user, CASH)
    return eng
