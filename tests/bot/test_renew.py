"""The executor's renewals against a small fake writer: the budget, lost answers, refusals."""

from __future__ import annotations

import logging

import pytest

from dora.bot.execute import UNCONFIRMED_GRACE_MS, Executor
from dora.core.models import RenewResult, RenewStatus, RestingOrder, Side
from dora.core.overlay import Overlay
from dora.core.renewal import REFUSALS_BEFORE_FALLBACK, Renewals
from dora.runtime.clock import FakeClock

START_MS = 1_767_225_600_000
EXPIRY_S = 60  # due within the last 20 s


class RenewWriter:
    """Answers renewals with ``status`` (applying them to ``expiry`` only when told to)."""

    def __init__(self, clock: FakeClock, spare: int = 10_000,
                 status: RenewStatus = RenewStatus.RENEWED, applies: bool = True) -> None:
        self.clock = clock
        self.spare = spare
        self.status = status
        self.applies = applies
        self.sent: list[tuple[str, int]] = []
        self.expiry: dict[str, int] = {}  # the exchange's truth, by order id

    def spare_write_tokens(self) -> int:
        return self.spare

    def renew_order(self, order: RestingOrder, expiration_s: int) -> RenewResult:
        self.clock.advance_ms(20)
        self.sent.append((order.order_id, expiration_s))
        self.spare -= 10
        if self.applies:
            self.expiry[order.order_id] = expiration_s * 1000
        return RenewResult(order.order_id, self.status, expiration_s * 1000,
                           ts_ms=self.clock.now_ms() if self.status is RenewStatus.RENEWED else 0,
                           error_code="" if self.status is RenewStatus.RENEWED else "x")


def resting(order_id: str, expires_ms: int) -> RestingOrder:
    return RestingOrder(order_id, f"dora-{order_id}", "MKT", Side.BID, 4500, 500,
                        expires_ms=expires_ms)


def setup(**writer: object) -> tuple[Executor, RenewWriter, Overlay, FakeClock, Renewals]:
    clock = FakeClock(START_MS)
    fake = RenewWriter(clock, **writer)  # type: ignore[arg-type]
    overlay = Overlay()
    executor = Executor(fake, overlay, clock, logging.getLogger("dora.test"))  # type: ignore[arg-type]
    return executor, fake, overlay, clock, Renewals(EXPIRY_S)


def test_a_cycle_renews_only_as_many_as_half_its_spare_tokens_pay_for() -> None:
    executor, writer, _, clock, renewals = setup(spare=45)
    due = [resting(f"o{i}", START_MS + 5_000 + i) for i in range(5)]
    report = executor.renew(renewals, due, {})
    assert [order_id for order_id, _ in writer.sent] == ["o0", "o1"]  # 45 // 2 // 10
    assert (report.renewed, report.renew_deferred) == (2, 3)
    assert executor.last_write_ms == clock.now_ms()


def test_nothing_is_renewed_once_a_stop_is_requested() -> None:
    clock = FakeClock(START_MS)
    writer = RenewWriter(clock)
    executor = Executor(writer, Overlay(), clock, logging.getLogger("dora.test"),  # type: ignore[arg-type]
                        may_place=lambda: False)
    report = executor.renew(Renewals(EXPIRY_S), [resting("o1", START_MS + 5_000)], {})
    assert writer.sent == [] and report.renewed == 0


def test_a_lost_answer_is_not_renewed_again_until_the_listing_shows_the_old_expiry() -> None:
    """The answer is lost and the renewal did not apply: dora holds off while it still might,
    then renews again, long before the order lapses."""
    executor, writer, overlay, clock, renewals = setup(status=RenewStatus.UNKNOWN, applies=False)
    listed = [resting("o1", START_MS + 15_000)]
    executor.renew(renewals, renewals.due(overlay.apply(listed, START_MS), START_MS), {})
    assert len(writer.sent) == 1
    answered_ms = clock.now_ms()
    writer.status, writer.applies = RenewStatus.RENEWED, True
    while clock.now_ms() + 1_000 < answered_ms + UNCONFIRMED_GRACE_MS:
        clock.advance_ms(1_000)  # cycles whose listing is current as they start
        view = overlay.apply(listed, clock.now_ms())
        executor.renew(renewals, renewals.due(view, clock.now_ms()), {})
    assert len(writer.sent) == 1  # the first may still apply: no second amend yet
    clock.advance_ms(1_000)
    view = overlay.apply(listed, clock.now_ms())  # current past it, and the old expiry shows
    executor.renew(renewals, renewals.due(view, clock.now_ms()), {})
    assert len(writer.sent) == 2 and clock.now_ms() < START_MS + 15_000
    assert writer.expiry["o1"] > START_MS + 15_000


@pytest.mark.parametrize("status", [RenewStatus.REJECTED, RenewStatus.UNSUPPORTED])
def test_refusals_stop_the_cycle_and_turn_renewal_off(
        status: RenewStatus, caplog: pytest.LogCaptureFixture) -> None:
    executor, writer, _, _, renewals = setup(status=status)
    due = [resting(f"o{i}", START_MS + 5_000 + i) for i in range(REFUSALS_BEFORE_FALLBACK + 2)]
    with caplog.at_level(logging.WARNING, logger="dora.test"):
        report = executor.renew(renewals, due, {})
        executor.renew(renewals, due, {})
    sent = 1 if status is RenewStatus.UNSUPPORTED else REFUSALS_BEFORE_FALLBACK
    assert len(writer.sent) == report.renew_failed == sent
    assert not renewals.enabled
    assert [r.event_type for r in caplog.records  # type: ignore[attr-defined]
            if getattr(r, "event_type", "") == "RENEWAL_OFF"] == ["RENEWAL_OFF"]
