"""One active instance per shard, with real ``dora run`` processes under the chaos rig's faults
(read lag, 5xx, lost answers, outside flow), judged from the exchange's own orders.

``make test`` runs each once (two handovers of each kind); ``make chaos`` repeats them
(DORA_CHAOS_RUNS) with more handovers (DORA_CHAOS_HANDOVERS). Each test prints its takeover
times (``-s`` shows them).
"""

from __future__ import annotations

import os

import pytest

from dora.bot.execute import UNCONFIRMED_GRACE_MS
from tests.chaos.conftest import chaos_runs, chaos_seeds
from tests.chaos.lease_scenarios import LeaseFigures, run_freeze, run_handovers, run_shards

RUNS = [pytest.param(seed, id=f"seed{seed}-run{run}")
        for seed in chaos_seeds() for run in range(chaos_runs())]
HANDOVERS = int(os.environ.get("DORA_CHAOS_HANDOVERS", "2"))


def assert_one_quoting_instance(figures: LeaseFigures) -> None:
    assert figures.samples > 20
    assert figures.epochs_quoting_at_once == 1, "two epochs of one shard rested at once"
    assert figures.tags_per_market == 1, "two shards quoted one market at once"


@pytest.mark.timeout(120 + 60 * HANDOVERS)
@pytest.mark.parametrize("seed", RUNS)
def test_sigterm_hands_over_within_two_cycles_and_leaves_nothing_of_the_old_epoch(
    rig_factory, seed
):
    figures = run_handovers(rig_factory(seed), "sigterm", HANDOVERS)
    print(figures.summary("sigterm"))
    assert_one_quoting_instance(figures)
    assert "standby health check exit 0" in figures.notes  # a deploy's standbys stay healthy
    for handover in figures.handovers:
        if handover.after_refused_create is None:
            assert handover.cycles <= 2, "the standby took more than two cycles to quote"
        else:  # its create met an injected 5xx: unknown to dora, so held for the grace first
            assert handover.after_refused_create <= UNCONFIRMED_GRACE_MS / 1000 + 3, \
                "the standby quoted too late after the grace of a refused create"
        assert handover.old_left == 0, "the old epoch's orders were left resting"


@pytest.mark.timeout(120 + 60 * HANDOVERS)
@pytest.mark.parametrize("seed", RUNS)
def test_a_killed_holder_is_replaced_after_its_lease_and_fenced_by_its_group(rig_factory, seed):
    rig = rig_factory(seed)
    figures = run_handovers(rig, "kill", HANDOVERS)
    print(figures.summary("kill"))
    assert_one_quoting_instance(figures)
    for handover in figures.handovers:
        assert handover.after_expiry is not None and handover.after_expiry >= 0, \
            "taken over before the dead holder's lease ran out"
        assert handover.old_left == 0, "the dead epoch's orders were left resting"
        assert handover.old_cancelled_by_dora == 0, "not the group trigger: cancelled by dora"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", RUNS)
def test_a_holder_frozen_past_its_lease_places_nothing_and_saves_nothing_after(rig_factory,
                                                                              seed):
    figures, found = run_freeze(rig_factory(seed))
    print(figures.summary("freeze"), found)
    assert_one_quoting_instance(figures)
    assert found["old_epoch_orders_after_resume"] == 0
    assert found["old_epoch_resting"] == 0
    assert found["state_saves_after_resume"] == 0
    assert found["holder_cycles_after_resume"] == 0
    assert found["lease_lost_events"] == 1


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", RUNS)
def test_three_shards_quote_each_of_twelve_markets_once_and_a_dead_one_is_taken_over(
    rig_factory, seed
):
    rig = rig_factory(seed, markets=12)
    figures, quoted = run_shards(rig, 3)
    print(figures.summary("shards"))
    assert_one_quoting_instance(figures)
    assert quoted == set(rig.tickers[:12])
    (takeover,) = figures.handovers
    assert takeover.after_expiry is not None and takeover.after_expiry >= 0
    assert takeover.old_left == 0
