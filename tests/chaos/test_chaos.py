"""The chaos suite: real ``dora run`` processes under read lag, 5xx faults, lost write answers,
outside flow, kill -9s and SIGTERMs, judged from the exchange's own state.

``make test`` runs one seed with three kills and the hanging outage; ``make chaos`` runs more
seeds, kills and repeats, and a refusing outage too.
Each test prints its figures (``-s`` shows them).
"""

from __future__ import annotations

import pytest

from tests.chaos.conftest import chaos_kills, chaos_outages, chaos_runs, chaos_seeds
from tests.chaos.scenarios import (
    BUDGET_S,
    SAVE_ATTEMPTS,
    Figures,
    run_kill_with_log_backlog,
    run_kills,
    run_lost_state_answers,
    run_outage_stop,
    run_stop_after_lost_answers,
)

SEEDED_RUNS = [pytest.param(seed, id=f"seed{seed}-run{run}")
               for seed in chaos_seeds() for run in range(chaos_runs())]
KILLS = chaos_kills()


def report(figures: Figures) -> None:
    print(figures.summary())


def assert_nothing_lost_and_nothing_left(figures: Figures) -> None:
    assert figures.trade_log is not None and figures.size is not None
    assert figures.trade_log.missing == 0, "dora's fills missing from dora_trade_log"
    assert figures.trade_log.duplicated == 0, "a fill logged twice"
    assert figures.trade_log.unknown == 0, "a trade-log row the exchange does not know"
    assert figures.position_diffs == {}, "stored positions differ from the exchange's"
    assert figures.resting_after_stop == 0, "dora's orders left resting after a clean stop"
    assert figures.reported_left_resting == 0
    assert figures.size.violations == [], "more resting on a market side than targeted"
    assert figures.over_caps == [], "position and resting orders past an inventory cap"
    assert figures.exchange_404["stale"] == 0, "a cancel sent after dora was told it was gone"
    assert figures.exchange_404["unexplained"] == 0
    assert figures.dora_404["stale"] == 0
    assert figures.exit_s is not None and figures.exit_s < BUDGET_S


@pytest.mark.timeout(180 + 60 * KILLS)
@pytest.mark.parametrize("seed", SEEDED_RUNS)
def test_kills_and_restarts_lose_no_fill_and_a_clean_stop_leaves_nothing(rig_factory, seed):
    figures = run_kills(rig_factory(seed), seed, KILLS)
    report(figures)
    assert figures.trade_log is not None and figures.trade_log.exchange_fills > 0
    assert_nothing_lost_and_nothing_left(figures)


# Basic's write bucket (95 usable tokens, 100 a second) against 6 markets x 3 levels a side: a
# full requote costs 36 x (10 + 2) = 432 tokens, so its creates go out in waves over about 3.4 s,
# and a plan older than 1 s leaves the rest to the next cycle.
SMALL_TIER = {"tier": "basic", "market_config": {"levels": 3},
              "global_config": {"max_plan_age_ms": 1_000}}


@pytest.mark.timeout(240 + 60 * KILLS)
@pytest.mark.parametrize("seed", SEEDED_RUNS)
def test_on_a_small_tier_requotes_span_cycles_and_kills_mid_phase_lose_nothing(rig_factory,
                                                                               seed):
    """Places phases in waves, cut short by their plan's age and finished by later cycles,
    killed at random moments and restarted: the same invariants as on a large tier."""
    rig = rig_factory(seed, markets=6, tier="basic", rig=SMALL_TIER)
    figures = run_kills(rig, seed, KILLS)
    report(figures)
    summaries = [e for e in rig.all_events() if e.get("event_type") == "CYCLE_SUMMARY"]
    deferred = sum(int(e.get("orders_deferred", 0)) for e in summaries)
    print(f"orders_deferred={deferred} over {len(summaries)} cycles")
    assert deferred > 0, "no places phase ran past its plan's age: the scenario did not happen"
    assert_nothing_lost_and_nothing_left(figures)


# The SDK's retries after lost answers wait up to ~30 s in all; the lease outlasts them, so the
# process that saved is still the holder when it saves again.
LONG_LEASE = {"lease_ms": 60_000}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", SEEDED_RUNS)
def test_a_state_save_whose_every_answer_was_lost_does_not_stop_dora(rig_factory, seed):
    lost = run_lost_state_answers(rig_factory(seed, rig=LONG_LEASE), seed)
    report(lost.figures)
    print(f"answers_lost={lost.answers_lost} state versions (summed): {lost.versions_at_loss} "
          f"when lost, {lost.versions_at_stop} at the stop")
    assert lost.answers_lost >= SAVE_ATTEMPTS
    assert lost.versions_at_stop > lost.versions_at_loss + 2, "dora stopped saving its state"
    assert_nothing_lost_and_nothing_left(lost.figures)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", SEEDED_RUNS)
def test_a_kill_with_log_rows_queued_loses_only_log_rows(rig_factory, seed):
    """The log tables are slow and the background writer has a backlog when dora is killed:
    the saved state counts no fill without its trade-log row, and after a restart nothing of
    the exchange's is missing."""
    outcome = run_kill_with_log_backlog(rig_factory(seed), seed)
    report(outcome.figures)
    print(f"backlog_at_kill={outcome.backlog_at_kill} fills_counted={outcome.fills_counted} "
          f"counted_unlogged={outcome.counted_unlogged}")
    assert outcome.backlog_at_kill > 0
    assert outcome.counted_unlogged == 0, "the saved state counts fills with no trade-log row"
    assert_nothing_lost_and_nothing_left(outcome.figures)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", SEEDED_RUNS)
def test_a_stop_right_after_lost_answers_leaves_nothing_resting(rig_factory, seed):
    figures = run_stop_after_lost_answers(rig_factory(seed), seed)
    report(figures)
    assert_nothing_lost_and_nothing_left(figures)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", chaos_outages())
@pytest.mark.parametrize("seed", SEEDED_RUNS)
def test_sigterm_with_exchange_and_dynamodb_unreachable_exits_within_the_budget(
    rig_factory, seed, mode
):
    figures = run_outage_stop(rig_factory(seed), seed, mode)
    report(figures)
    assert figures.exit_s is not None and figures.exit_s < BUDGET_S
    assert figures.dora_404["stale"] == 0
