"""Shared fixtures: a local Kalshi exchange (``dora.sim``) in-process on a loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dora.clock import Clock
from dora.sim.runner import RunningSim, SimSettings, start_sim

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
