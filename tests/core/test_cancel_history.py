from dora.core.cancel_history import CancelHistory, GoneClass


def test_a_404_nothing_explains_is_a_fill_race() -> None:
    assert CancelHistory().classify("o1", after_lost_answer=False) is GoneClass.FILL_RACE


def test_a_404_after_dora_s_own_unanswered_cancel_is_a_lost_answer() -> None:
    history = CancelHistory()
    assert history.classify("o1", after_lost_answer=True) is GoneClass.LOST_ANSWER
    history.record_unanswered("o2", 1_000)
    assert history.classify("o2", after_lost_answer=False) is GoneClass.LOST_ANSWER


def test_a_404_for_an_order_dora_was_told_is_gone_is_stale() -> None:
    history = CancelHistory()
    history.record_unanswered("o1", 1_000)
    history.record_gone("o1", 2_000)
    assert history.classify("o1", after_lost_answer=True) is GoneClass.STALE
    history.record_unanswered("o1", 3_000)  # a known-gone order stays known gone
    assert history.classify("o1", after_lost_answer=False) is GoneClass.STALE


def test_what_dora_heard_is_kept_for_the_horizon_only() -> None:
    history = CancelHistory(horizon_ms=10_000)
    history.record_gone("old", 1_000)
    history.record_unanswered("recent", 9_000)
    history.prune(now_ms=15_000)
    assert history.gone == {} and history.unanswered == {"recent": 9_000}
