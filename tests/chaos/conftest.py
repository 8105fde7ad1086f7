"""Chaos settings from the environment (``make chaos`` sets them; ``make test`` runs the short
defaults): DORA_CHAOS_SEEDS (space or comma separated), DORA_CHAOS_KILLS, DORA_CHAOS_RUNS,
DORA_CHAOS_OUTAGES (hang, refuse), DORA_CHAOS_HANDOVERS (lease handovers per test),
DORA_CHAOS_LEASE_MS."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from dora.sim.runner import RunningSim
from tests.chaos.harness import ChaosRig
from tests.chaos.proxy import Mode
from tests.chaos.scenarios import SIM_FAULTS


def chaos_seeds() -> list[int]:
    raw = os.environ.get("DORA_CHAOS_SEEDS", "1").replace(",", " ")
    return [int(part) for part in raw.split()]


def chaos_kills() -> int:
    return int(os.environ.get("DORA_CHAOS_KILLS", "3"))


def chaos_lease_ms() -> int:
    """The lease the rig's processes use (short, so restarts after a kill -9 are quick;
    DORA_CHAOS_LEASE_MS=20000 measures takeovers with the production lease)."""
    return int(os.environ.get("DORA_CHAOS_LEASE_MS", "4000"))


def chaos_outages() -> list[Mode]:
    """How the exchange and DynamoDB stop answering in the outage test (hang is the worst case)."""
    return [Mode(part) for part in os.environ.get("DORA_CHAOS_OUTAGES", "hang").split()]


def chaos_runs() -> int:
    """How many times each seeded scenario repeats (the long version repeats them)."""
    return int(os.environ.get("DORA_CHAOS_RUNS", "1"))


@pytest.fixture
def rig_factory(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str, tmp_path: Path
) -> Iterator[Callable[..., ChaosRig]]:
    """``rig_factory(seed, markets=3, rig=None, **sim_overrides)``: a sim with the chaos faults,
    behind proxies, with fresh tables (``rig``: :class:`ChaosRig` fields, such as the tier dora
    is told or config overrides); everything stops after the test."""
    rigs: list[ChaosRig] = []

    def make(seed: int, markets: int = 3, rig: Mapping[str, Any] | None = None,
             **overrides: Any) -> ChaosRig:
        sim = sim_factory(markets=markets, seed=seed, **{**SIM_FAULTS, **overrides})
        workdir = tmp_path / f"rig-{len(rigs)}"
        workdir.mkdir()
        made = ChaosRig(sim, dynamo_endpoint, workdir, markets=markets,
                        **{"lease_ms": chaos_lease_ms(), **(rig or {})})
        rigs.append(made)
        return made

    yield make
    for rig in rigs:
        rig.close()
