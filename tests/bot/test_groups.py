"""Which of dora's orders the epoch's group keeper counts as the group's: the fills that count
toward its 15 s limit, and a map bounded by time however many orders a requote places; and a
group the exchange says triggered closes the create waves not sent yet."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dora.bot.fencing import FencedOrders
from dora.bot.groups import TRACKED_FOR_MS, GroupKeeper
from dora.bot.halting import HaltGuard
from dora.bot.lease import LeaseKeeper
from dora.bot.state import BotState
from dora.core.errors import TransientError
from dora.core.fencing import GROUP_CLOSED
from dora.core.models import Fill, OrderRequest, PlaceResult, PlaceStatus, Side
from dora.core.order_groups import TRIGGERED_CODE, ResetPolicy, TriggeredBy
from dora.core.tiers import tier_named
from dora.core.units import ONE_CONTRACT
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import FakeClock
from dora.store.lease import LeaseRecord
from tests.exchange import payloads as p
from tests.exchange.conftest import BASE

LOG = logging.getLogger("dora.test")


def keeper(clock: FakeClock) -> GroupKeeper:
    lease = LeaseKeeper(None, clock, LOG, owner="test", shards=1)  # type: ignore[arg-type]
    groups = GroupKeeper(None, lease, clock, LOG)  # type: ignore[arg-type]
    groups.group_id, groups.limit = "g1", 10 * ONE_CONTRACT
    return groups


def placed(order_id: str) -> PlaceResult:
    request = OrderRequest("KXA", Side.BID, 5000, ONE_CONTRACT, f"dora-{order_id}")
    return PlaceResult(request, PlaceStatus.PLACED, order_id=order_id)


def fill(order_id: str, clock: FakeClock, contracts: int) -> Fill:
    return Fill(f"f-{order_id}", order_id, "KXA", Side.BID, 5000, contracts * ONE_CONTRACT, 0,
                False, clock.now_ms())


def test_an_order_neither_placed_nor_listed_for_a_minute_is_forgotten_and_its_fills_ignored(
) -> None:
    clock = FakeClock()
    groups = keeper(clock)
    groups.on_placed([placed("o1")])
    clock.advance_ms(TRACKED_FOR_MS // 2)
    groups.on_listed([("o2", "g1"), ("o3", "another-group")])
    assert set(groups.order_ids) == {"o1", "o2"}
    clock.advance_ms(TRACKED_FOR_MS // 2 + 1)
    groups.on_listed([("o2", "g1")])  # o2 still rests: seen again
    assert set(groups.order_ids) == {"o2"}
    groups.on_fills([fill("o1", clock, 10)])
    assert groups.triggered_by is None  # not the group's any more
    groups.on_fills([fill("o2", clock, 10)])
    assert groups.triggered_by is not None  # the limit, reached by the group's own order


def test_the_map_is_bounded_by_time_not_by_how_many_orders_a_requote_places() -> None:
    clock = FakeClock()
    groups = keeper(clock)
    for cycle in range(300):  # 2,000 creates a second for five minutes
        groups.on_placed([placed(f"c{cycle}-{n}") for n in range(2_000)])
        groups.on_listed([])
        clock.advance_ms(1_000)
    assert len(groups.order_ids) <= 2_000 * (TRACKED_FOR_MS // 1_000 + 1)
    assert "c299-1999" in groups.order_ids and "c200-0" not in groups.order_ids


class HeldLease:
    """This process holds the shard's lease."""

    def may_place(self) -> bool:
        return True

    def may_write(self) -> bool:
        return True


def test_once_a_wave_of_creates_finds_the_group_triggered_no_later_wave_is_sent() -> None:
    """Creates go in waves (one per batch, 9 batches the first wave on basic): the exchange
    refuses the first wave's because the group triggered, so the waves after it are not sent
    at all (each create refused as ``order_group_closed``), not spent on refusals."""
    clock = FakeClock()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    client = KalshiClient(BASE, Credentials.from_pem("key-1", pem),
                          RateLimiter(tier_named("basic"), clock), clock, max_batch=1)
    groups = keeper(clock)
    orders = FencedOrders(client, HeldLease(), groups)  # type: ignore[arg-type]

    def refused(request: Any) -> tuple[int, dict[str, str], str]:
        items = [p.item_error(TRIGGERED_CODE, "order group triggered",
                              client_order_id=o["client_order_id"])
                 for o in json.loads(request.body)["orders"]]
        return 201, {}, json.dumps({"orders": items})

    requests = [OrderRequest("KXA", Side.BID, 5000 - n, ONE_CONTRACT, f"dora-{n}")
                for n in range(25)]
    with responses.RequestsMock() as api:
        api.add_callback(responses.POST, f"{BASE}/portfolio/events/orders/batched",
                         callback=refused)
        sent = orders.place_batches(requests)
        creates_sent = len(api.calls)

    results = [r for batch in sent for r in batch.results]
    assert 1 <= creates_sent < len(requests)
    assert {r.error_code for r in results[:creates_sent]} == {TRIGGERED_CODE}
    assert {r.error_code for r in results[creates_sent:]} == {GROUP_CLOSED}
    assert groups.triggered_by is not None and not groups.may_place()


class GroupCalls:
    """The exchange's group endpoints, recording each call; ``fail_resets`` resets fail."""

    def __init__(self, fail_resets: int = 0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_resets = fail_resets

    def trigger_order_group(self, group_id: str) -> None:
        self.calls.append(("trigger", group_id))

    def reset_order_group(self, group_id: str) -> None:
        if self.fail_resets:
            self.fail_resets -= 1
            raise TransientError("503 service unavailable")
        self.calls.append(("reset", group_id))


def holding(clock: FakeClock, client: GroupCalls) -> GroupKeeper:
    lease = LeaseKeeper(None, clock, LOG, owner="test", shards=1)  # type: ignore[arg-type]
    lease.held = LeaseRecord(key="lease#0", owner="test", epoch=1, order_group_id="g1")
    groups = GroupKeeper(client, lease, clock, LOG)  # type: ignore[arg-type]
    groups.group_id, groups.limit = "g1", 10 * ONE_CONTRACT
    return groups


def test_a_halt_over_a_fill_storm_leaves_the_group_to_the_storm_s_reset_policy() -> None:
    """The exchange triggered the group (a fill storm, reset ``manual``), then a halt came and
    went (a daily-loss halt lifts at the day's roll): the group stays closed until an operator
    resets it."""
    clock, client = FakeClock(), GroupCalls()
    groups = holding(clock, client)
    groups.on_placed([placed("o1")])
    groups.on_fills([fill("o1", clock, 10)])
    assert groups.triggered_by is TriggeredBy.FILLS
    groups.trigger(TriggeredBy.HALT)
    assert groups.triggered_by is TriggeredBy.HALT
    clock.advance_ms(3_600_000)
    groups.lift(TriggeredBy.HALT)
    groups.reset_if_due(ResetPolicy.MANUAL, 30_000)
    assert groups.triggered_by is TriggeredBy.FILLS and not groups.may_place()
    assert ("reset", "g1") not in client.calls
    groups.reset_if_due(ResetPolicy.AUTO, 30_000)  # under ``auto`` its cool-off has passed
    assert groups.may_place() and client.calls[-1] == ("reset", "g1")


def test_a_resume_whose_group_reset_failed_is_made_again_the_next_cycle() -> None:
    clock, client = FakeClock(), GroupCalls(fail_resets=1)
    groups = holding(clock, client)
    handover = SimpleNamespace(groups=groups, pull_quotes=lambda state, why: groups.trigger(why))
    persister = SimpleNamespace(save_state=lambda state: None, flush_logs=lambda timeout: True,
                                record_special=lambda *args: None)
    guard = HaltGuard(handover, persister, clock, LOG)  # type: ignore[arg-type]
    state = BotState(operator_halt="operator: news")
    assert guard.check(state) and groups.triggered_by is TriggeredBy.HALT
    state.operator_halt = ""
    with pytest.raises(TransientError):
        guard.check(state)  # the resume's reset answered 503: the cycle failed
    assert not guard.check(state)  # the next cycle resumes again
    assert groups.may_place() and client.calls[-1] == ("reset", "g1")
