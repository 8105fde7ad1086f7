"""The renewal policy: what is due, how many fit, and when renewal gives up."""

from __future__ import annotations

import pytest

from dora.core.models import RenewResult, RenewStatus, RestingOrder, Side
from dora.core.overlay import UNKNOWN_ORDER_PREFIX, Overlay
from dora.core.renewal import (
    MAX_RENEWALS_PER_CYCLE,
    REFUSALS_BEFORE_FALLBACK,
    VERDICT_MARGIN_MS,
    Renewals,
    renewal_budget,
)

NOW = 1_767_225_600_000
EXPIRY_S = 900  # due within the last 300 s


def order(order_id: str, expires_in_s: float | None) -> RestingOrder:
    expires = 0 if expires_in_s is None else NOW + int(expires_in_s * 1000)
    return RestingOrder(order_id, f"dora-{order_id}", "MKT", Side.BID, 4500, 500,
                        expires_ms=expires)


def refused(order_id: str, status: RenewStatus = RenewStatus.REJECTED) -> RenewResult:
    return RenewResult(order_id, status, error_code="invalid_parameters")


def test_due_orders_are_the_ones_closest_to_lapsing_first() -> None:
    renewals = Renewals(EXPIRY_S)
    kept = [order("late", 299), order("soon", 10), order("far", 301), order("never", None),
            order("lapsed", 0), order("mid", 150), order(UNKNOWN_ORDER_PREFIX + "x", 5)]
    assert [o.order_id for o in renewals.due(kept, NOW)] == ["soon", "mid", "late"]


def test_a_new_expiry_is_a_full_period_from_now() -> None:
    assert Renewals(EXPIRY_S).new_expiry_s(NOW + 999) == NOW // 1000 + EXPIRY_S


@pytest.mark.parametrize(("spare", "budget"), [
    (0, 0), (19, 0), (20, 1), (95, 4), (399, 19), (100_000, MAX_RENEWALS_PER_CYCLE)])
def test_the_budget_is_half_the_spare_tokens_at_most(spare: int, budget: int) -> None:
    assert renewal_budget(spare, cost=10) == budget


def test_a_renewed_order_is_not_due_again_and_refusals_reset() -> None:
    renewals = Renewals(EXPIRY_S)
    renewals.record(refused("a"), NOW)
    renewals.record(refused("b"), NOW)
    renewals.record(RenewResult("c", RenewStatus.RENEWED), NOW)
    renewals.record(refused("d"), NOW)
    assert renewals.enabled and renewals.refusals_in_row == 1
    assert [o.order_id for o in renewals.due([order("a", 5), order("e", 5)], NOW)] == ["e"]


def test_refusals_in_a_row_turn_renewal_off_once() -> None:
    renewals = Renewals(EXPIRY_S)
    turned_off = [renewals.record(refused(f"o{i}"), NOW)
                  for i in range(REFUSALS_BEFORE_FALLBACK + 1)]
    assert turned_off == [False] * (REFUSALS_BEFORE_FALLBACK - 1) + [True, False]
    assert not renewals.enabled and "invalid_parameters" in renewals.disabled_reason
    assert renewals.due([order("x", 5)], NOW) == []


def test_a_refused_call_turns_renewal_off_at_once() -> None:
    renewals = Renewals(EXPIRY_S)
    assert renewals.record(refused("a", RenewStatus.UNSUPPORTED), NOW)
    assert not renewals.enabled


@pytest.mark.parametrize("status", [RenewStatus.UNKNOWN, RenewStatus.NOT_SENT,
                                    RenewStatus.CONFLICT])
def test_lost_unsent_and_order_only_refusals_are_no_strikes(status: RenewStatus) -> None:
    renewals = Renewals(EXPIRY_S)
    for i in range(REFUSALS_BEFORE_FALLBACK * 2):
        renewals.record(refused(f"o{i}", status), NOW)
    assert renewals.enabled and renewals.refusals_in_row == 0
    conflicted = [o.order_id for o in renewals.due([order("o0", 5)], NOW)] == []
    assert conflicted is (status is RenewStatus.CONFLICT)  # that order is left to lapse


def test_a_404_counts_only_when_a_later_listing_still_shows_the_order() -> None:
    renewals = Renewals(EXPIRY_S)
    for name in ("gone", "there-1", "there-2", "there-3"):
        renewals.record(refused(name, RenewStatus.NOT_FOUND), NOW)
    still_listed = [order(f"there-{i}", 5) for i in (1, 2, 3)]
    assert renewals.due([order("gone", 5), *still_listed], NOW) == []  # awaiting a verdict
    assert not renewals.settle(still_listed, NOW + VERDICT_MARGIN_MS - 1)  # too early to judge
    assert renewals.enabled
    assert renewals.settle(still_listed, NOW + VERDICT_MARGIN_MS)
    assert not renewals.enabled and "404" in renewals.disabled_reason


def test_404s_on_orders_that_are_gone_are_no_strikes() -> None:
    renewals = Renewals(EXPIRY_S)
    for i in range(REFUSALS_BEFORE_FALLBACK):
        renewals.record(refused(f"o{i}", RenewStatus.NOT_FOUND), NOW)
    assert not renewals.settle([order("other", 5)], NOW + VERDICT_MARGIN_MS)
    assert renewals.enabled and renewals.refusals_in_row == 0
    assert renewals.unexplained_404 == {}


def test_given_up_orders_are_forgotten_once_they_no_longer_rest() -> None:
    renewals = Renewals(EXPIRY_S)
    renewals.record(refused("a", RenewStatus.CONFLICT), NOW)
    renewals.settle([order("a", 5)], NOW)
    assert renewals.given_up == {"a"}
    renewals.settle([], NOW)
    assert renewals.given_up == set()


def test_the_overlay_shows_a_renewed_expiry_until_the_listing_catches_up() -> None:
    overlay = Overlay()
    listed = [order("a", 10)]
    overlay.record_renewed("a", NOW + 900_000, written_ms=NOW + 50)
    (seen,) = overlay.apply(listed, as_of_ms=NOW)
    assert seen.expires_ms == NOW + 900_000
    assert Renewals(EXPIRY_S).due([seen], NOW) == []
    (caught_up,) = overlay.apply(listed, as_of_ms=NOW + 50)  # listing current: it decides
    assert caught_up.expires_ms == NOW + 10_000
    assert overlay.renewed == {}


def test_the_overlay_never_moves_an_expiry_back_and_keeps_a_decrease() -> None:
    overlay = Overlay()
    overlay.record_renewed("a", NOW + 5_000, written_ms=NOW + 50)
    overlay.record_decreased("a", 200, written_ms=NOW + 50)
    (seen,) = overlay.apply([order("a", 10)], as_of_ms=NOW)
    assert (seen.expires_ms, seen.remaining) == (NOW + 10_000, 200)
