"""The bot's state saves when an operator or a second writer changes ``dora_state`` meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from dora.bot.persistence import Persister, _forget_old_signatures
from dora.bot.quoting import QuoteOutcome
from dora.bot.state import BotState
from dora.core.errors import ConcurrentWriterError, StoreError
from dora.core.models import Fill, PositionState, RestingOrder, RiskState, Side
from dora.runtime.logs import bot_version
from dora.store.store import Store
from tests.store.test_lost_ack import lose_next_answer

MINE = PositionState("KXMINE", net=500, open_cost=2_000_000)
THEIRS = PositionState("KXTHEIRS", net=-300, open_cost=900_000)


_PERSISTERS: list[Persister] = []


@pytest.fixture(autouse=True)
def _log_writers_stop_inside_the_mock(aws: None) -> Iterator[None]:
    """Once moto's mock ends, a log writer still writing would send to AWS's real endpoint."""
    yield
    while _PERSISTERS:
        _PERSISTERS.pop().close_logs(10)


def running_bot(make_store: Callable[..., Store]) -> tuple[Persister, BotState]:
    store = make_store()
    store.create_tables()
    persister = Persister(store, logging.getLogger("dora.test"), "run-1")
    _PERSISTERS.append(persister)
    state = BotState()
    persister.load_into(state)
    state.positions = {"KXMINE": MINE}
    state.risk = RiskState(daily_pnl=-25_000, day="2026-01-01")
    state.seen_fills = {"fill-mine": 1}
    persister.save_state(state)
    return persister, state


def test_a_snapshot_whose_answer_was_lost_after_it_landed_is_no_second_writer(
    resource_once: Any, clock: Any
) -> None:
    """The save's only attempt landed and its answer was lost (the cycle failed): the next
    cycle's save goes on from the version that landed, not as a conflict with another dora."""
    persister, state = running_bot(lambda: Store(resource_once, "lost", clock))
    lose_next_answer(resource_once, "transact_write_items", landing=True)
    state.positions = {"KXMINE": replace(MINE, net=600)}
    with pytest.raises(StoreError):
        persister.save_state(state)

    state.positions = {"KXMINE": replace(MINE, net=700)}
    persister.save_state(state)
    assert Store(resource_once, "lost", clock).load_state().positions["KXMINE"].net == 700


def test_an_operator_halt_is_kept_along_with_the_bots_own_numbers(
    make_store: Callable[..., Store],
) -> None:
    persister, state = running_bot(make_store)
    operator = make_store()
    operator.load_state()
    operator.save_risk_state(RiskState(trading_halted=True, halt_reason="operator: news"))

    state.risk = RiskState(daily_pnl=-40_000, day="2026-01-01")
    persister.save_state(state)

    stored = make_store().load_state()
    assert (stored.risk.trading_halted, stored.risk.halt_reason) == (True, "operator: news")
    assert stored.risk.daily_pnl == -40_000
    assert state.risk.trading_halted


@pytest.mark.parametrize("refresh_first", [False, True])
def test_a_second_writer_of_positions_is_never_overwritten(
    make_store: Callable[..., Store], refresh_first: bool,
) -> None:
    persister, state = running_bot(make_store)
    other = make_store()
    stored = other.load_state()
    other.save_snapshot({"KXTHEIRS": THEIRS}, stored.risk, {"fill-theirs": 2})
    if refresh_first:  # a config refresh re-reads risk_state; it must not bless the rest
        persister.refresh_config(state)

    with pytest.raises(ConcurrentWriterError, match="second dora"):
        persister.save_state(state)

    after = make_store().load_state()
    assert set(after.positions) == {"KXTHEIRS"}
    assert set(after.recent_fills) == {"fill-theirs"}


def test_a_halt_the_bot_lifted_itself_is_not_taken_back_from_its_own_saved_item(
    make_store: Callable[..., Store],
) -> None:
    persister, state = running_bot(make_store)
    state.risk = RiskState(daily_pnl=-150_000_000, day="2026-01-01", trading_halted=True,
                           halt_reason="daily_loss: -150.00 <= -100.00")
    persister.save_state(state)
    state.risk = RiskState(day="2026-01-02")  # the day rolled: the loss halt lifts in memory

    persister.refresh_config(state)

    assert not state.risk.trading_halted


def test_execution_log_items_carry_the_bot_version(
    make_store: Callable[..., Store], resource: Any,
) -> None:
    persister, state = running_bot(make_store)
    outcome = QuoteOutcome()
    outcome.report.events.append({"event_type": "ORDER_RESULT", "status": "ACCEPTED",
                                  "market": "KXMINE", "latency_ms": 12})
    persister.after_cycle(state, 0, outcome, {}, save=False)
    assert persister.flush_logs(10)
    items = resource.Table("dora_execution_log_test").scan()["Items"]
    assert [(i["bot_version"], i["latency_ms"]) for i in items] == [(bot_version(), 12)]


def test_a_snapshot_is_saved_only_after_the_rows_of_the_fills_it_counts(
    make_store: Callable[..., Store], resource: Any,
) -> None:
    """The snapshot marks its fills seen for good; their trade-log rows must be there first."""
    persister, state = running_bot(make_store)
    fill = Fill("fill-new", "o-1", "KXMINE", Side.BID, 4_500, 200, 0, False, 1_767_225_600_000)
    state.unlogged_fills.append((fill, 0))
    state.seen_fills[fill.fill_id] = fill.ts_ms
    trade_log = resource.Table("dora_trade_log_test")
    failing = FailNextTradeLogWrite()
    resource.meta.client.meta.events.register("before-parameter-build.dynamodb.PutItem", failing)

    with pytest.raises(StoreError):
        persister.save_state(state)
    assert "fill-new" not in make_store().load_state().recent_fills  # the snapshot waited
    assert state.unlogged_fills  # still owed

    persister.save_state(state)
    assert [i["fill_id"] for i in trade_log.scan()["Items"]] == ["fill-new"]
    assert "fill-new" in make_store().load_state().recent_fills
    assert state.unlogged_fills == []


class FailNextTradeLogWrite:
    def __init__(self) -> None:
        self.armed = True

    def __call__(self, params: dict[str, Any], **_kwargs: Any) -> None:
        if self.armed and params.get("TableName", "").startswith("dora_trade_log"):
            self.armed = False
            raise EndpointConnectionError(endpoint_url="http://dynamodb.test")


def test_decision_signatures_of_markets_gone_are_forgotten_past_a_bound() -> None:
    """One signature per market ever decided would grow for as long as markets list and settle."""
    state = BotState()
    state.decision_signatures = {f"OLD-{n}": (n,) for n in range(600)}
    state.decision_signatures["NOW-1"] = ("kept",)
    _forget_old_signatures(state, {"NOW-1", "NOW-2"})
    assert state.decision_signatures == {"NOW-1": ("kept",)}
    small = {f"M{n}": (n,) for n in range(100)}
    state.decision_signatures = dict(small)
    _forget_old_signatures(state, {"M1"})
    assert state.decision_signatures == small  # within the bound nothing is dropped


def _open_orders_version(store: Store) -> int:
    item = store.get_state_item(store.state_key("open_orders")) or {}
    return int(item.get("version", 0))


def test_the_open_orders_item_is_written_only_when_the_orders_change(
    make_store: Callable[..., Store],
) -> None:
    persister, state = running_bot(make_store)
    reader = make_store()
    order = RestingOrder("o-1", "dora-1", "KXMINE", Side.BID, 5_600, remaining=500)
    state.resting = [order]
    persister.save_state(state)
    written = _open_orders_version(reader)
    persister.save_state(state)
    persister.save_state(state)
    assert _open_orders_version(reader) == written  # nothing changed: not written again
    state.resting = [replace(order, remaining=400)]  # a partial fill
    persister.save_state(state)
    assert _open_orders_version(reader) == written + 1
    state.decision_ids["o-1"] = "run-1:KXMINE:7"  # what the item shows of it changed
    persister.save_state(state)
    assert _open_orders_version(reader) == written + 2
    stored = reader.get_state_item(reader.state_key("open_orders")) or {}
    assert stored["orders"]["o-1"]["size"] == Decimal("4.00")
    assert stored["orders"]["o-1"]["decision_id"] == "run-1:KXMINE:7"


def test_a_failed_open_orders_write_is_made_again_at_the_next_save(
    make_store: Callable[..., Store],
) -> None:
    persister, state = running_bot(make_store)
    reader = make_store()
    state.resting = [RestingOrder("o-1", "dora-1", "KXMINE", Side.BID, 5_600, remaining=500)]
    store = persister._store
    real = store.save_open_orders

    def unreachable(*args: Any) -> int:
        raise StoreError("DynamoDB did not answer")

    store.save_open_orders = unreachable  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        persister.save_state(state)
    store.save_open_orders = real  # type: ignore[method-assign]
    persister.save_state(state)
    stored = reader.get_state_item(reader.state_key("open_orders")) or {}
    assert list(stored["orders"]) == ["o-1"]


def test_after_another_holder_wrote_open_orders_a_new_lease_writes_them_again(
    make_store: Callable[..., Store],
) -> None:
    """Holder A writes its orders; B, holding the lease meanwhile, writes its own; A takes the
    shard back (use_shard, then the state load, as a takeover does) with the same orders: the
    item must show A's again, though A's own last write had them already."""
    persister, state = running_bot(make_store)
    store = persister._store
    mine = RestingOrder("o-a", "dora-a", "KXMINE", Side.BID, 5_600, remaining=500)
    state.resting = [mine]
    persister.save_state(state)
    other = make_store()
    other.load_state()
    other.save_open_orders([RestingOrder("o-b", "dora-b", "KXMINE", Side.ASK, 6_000, 100)], {})
    persister.use_shard(store.shard, None)
    persister.load_into(state)
    state.resting = [mine]
    persister.save_state(state)
    stored = other.get_state_item(other.state_key("open_orders")) or {}
    assert list(stored["orders"]) == ["o-a"]
