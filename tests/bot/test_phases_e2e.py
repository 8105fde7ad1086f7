"""A cycle's phases against the real local exchange: the requests of one phase go out together,
the phases never overlap, and the read-lag overlay stays right with the reads sent together."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from dora.bot.lease import LeaseKeeper
from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.state import Mode
from dora.core.models import RiskState
from dora.core.tiers import tier_named
from dora.exchange.client import KalshiClient
from dora.exchange.credentials import Credentials
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import Clock, SystemClock
from dora.runtime.health import Heartbeat, read_heartbeat
from dora.sim.engine.flow import FLOW_MAKER
from dora.sim.http.counters import JournalEntry
from dora.sim.runner import RunningSim
from dora.store.store import Store, make_dynamodb_resource
from tests.bot.test_bot_e2e import targets_are_unique
from tests.conftest import GLOBAL_CONFIG, MARKET_CONFIG, BotEnv

CANCEL = "DELETE /portfolio/events/orders/batched"
CREATE = "POST /portfolio/events/orders/batched"
_envs = iter(range(10**6))


def client_for(sim: RunningSim, clock: Clock, *, max_batch: int = 20,
               tier: str = "prestige") -> KalshiClient:
    key = Path(sim.private_key_path or "").read_bytes()
    return KalshiClient(sim.url, Credentials.from_pem(sim.key_id, key),
                        RateLimiter(tier_named(tier), clock), clock, max_batch=max_batch)


def move_books(sim: RunningSim, tickers: list[str], cycle: int) -> None:
    """Every market's outside quote moves a cent: each cycle replaces every quote."""
    response = requests.post(f"{sim.control_url}/maker_quotes", timeout=10, json={
        "tickers": tickers, "offset": "0.01" if cycle % 2 else "0",
        "clear": [FLOW_MAKER] if cycle == 0 else []})
    response.raise_for_status()


def real_time_bot(sim_factory: Callable[..., RunningSim], dynamo_endpoint: str, *,
                  markets: int, max_batch: int, tier: str = "prestige",
                  global_config: Mapping[str, Any] = GLOBAL_CONFIG, mode: Mode = Mode.BATCH,
                  **settings: Any) -> tuple[Bot, RunningSim, list[str]]:
    """A bot on the real clock against a sim that answers 20 ms after each request, both on
    the rate budget of ``tier`` (dora takes the exchange's own at startup)."""
    clock = SystemClock()
    sim = sim_factory(markets=markets, flow=False, tier=tier, latency_ms=20)
    store = Store(make_dynamodb_resource(dynamo_endpoint, "us-east-1"), f"p{next(_envs)}", clock)
    store.create_tables()
    client = client_for(sim, clock, max_batch=max_batch, tier=tier)
    tickers = sorted(m.ticker for m in client.fetch_markets(status="open"))[:markets]
    for ticker in tickers:
        store.put_market_config_item({"market_id": ticker, **MARKET_CONFIG})
    store.set_global_fields(global_config)
    logger = logging.getLogger("dora.test")
    bot = Bot(client, Persister(store, logger, "run-phases"), clock, logger,
              LoopSettings(default_mode=mode, interval_ms=0, **settings), "run-phases",
              threading.Event())
    return bot, sim, tickers


def in_flight_peaks(journal: list[JournalEntry]) -> dict[str, int]:
    """The most requests of each kind the exchange had in hand at once, and (``creates while
    cancels``) how many creates arrived while a cancel was still unanswered."""
    in_flight: dict[str, int] = {}
    peaks: dict[str, int] = {"creates while cancels": 0}
    for entry in journal:
        kind = f"{entry.method} {entry.template}"
        if entry.moment == "arrived":
            if kind == CREATE and in_flight.get(CANCEL, 0):
                peaks["creates while cancels"] += 1
            in_flight[kind] = in_flight.get(kind, 0) + 1
            peaks[kind] = max(peaks.get(kind, 0), in_flight[kind])
        else:
            in_flight[kind] -= 1
    reads = sum(1 for k in peaks if k.startswith("GET "))
    peaks["read kinds"] = reads
    return peaks


def test_no_create_goes_out_before_every_cancel_of_the_cycle_is_answered(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str,
) -> None:
    """Judged from the exchange's own journal: the cancel batches overlap each other and the
    create batches overlap each other, but no create arrives while a cancel is unanswered."""
    bot, sim, tickers = real_time_bot(sim_factory, dynamo_endpoint, markets=4, max_batch=2)
    bot.startup()
    sim.context.counters.reset()
    for cycle in range(6):
        move_books(sim, tickers, cycle)
        summary = bot.run_cycle()
        assert summary.placed == 2 * len(tickers)
    peaks = in_flight_peaks(sim.context.counters.journal_entries())
    assert peaks["creates while cancels"] == 0
    assert peaks[CANCEL] >= 2 and peaks[CREATE] >= 2  # the batches of one phase went together
    assert peaks["GET /portfolio/orders"] >= 1
    bot.shutdown(reason="test")


def test_each_phase_s_time_is_in_the_cycle_summary(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str,
) -> None:
    bot, sim, tickers = real_time_bot(sim_factory, dynamo_endpoint, markets=3, max_batch=20)
    bot.startup()
    move_books(sim, tickers, 0)
    bot.run_cycle()
    move_books(sim, tickers, 1)
    summary = bot.run_cycle()
    phases = (summary.reads_ms, summary.compute_ms, summary.cancels_ms, summary.places_ms,
              summary.persist_ms)
    # each of the reads, the cancels and the places waited at least one answer (20 ms)
    assert min(summary.reads_ms, summary.cancels_ms, summary.places_ms) >= 20
    assert sum(phases) <= summary.duration_ms + 2  # rounding
    # reads, cancels and places each went out together: about one answer each, not one per
    # request (generous: a busy machine)
    assert summary.cancels_ms < 20 * 6 and summary.places_ms < 20 * 6
    bot.shutdown(reason="test")


def test_with_read_lag_a_timestamp_sent_beside_the_listing_never_ages_the_overlay_out(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    """The unsafe case, forced: the listing is served while the reads lag (it does not show
    dora's newest orders yet), then the lag clears and the timestamp sent beside the listing is
    served: it says "current", later than the listing. Trusting it would drop dora's newest
    orders from the overlay, and dora would place them again."""
    env = bot_env_factory(markets=3, lag_ms=3_000, flow=False)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    assert targets_are_unique(env)
    listed = threading.Event()
    fetch_orders, fetch_timestamp = env.client.fetch_resting_orders, \
        env.client.fetch_user_data_timestamp

    def listing(*args: Any, **kwargs: Any) -> Any:
        try:
            return fetch_orders(*args, **kwargs)
        finally:
            listed.set()

    def timestamp() -> Any:
        assert listed.wait(10)
        env.set_knobs(lag_ms=0)
        return fetch_timestamp()

    with env.sim.lock:  # new quotes: the lagging listing will not show them
        for ticker in env.tickers:
            env.sim.engine.set_fair_value(ticker, env.sim.engine.fair_value(ticker) + 300)
            env.sim.engine.seed_book(ticker)
    env.cycles(bot, 1)  # places the new quotes
    env.set_knobs(lag_ms=3_000)
    env.client.fetch_resting_orders = listing  # type: ignore[method-assign]
    env.client.fetch_user_data_timestamp = timestamp  # type: ignore[method-assign]
    env.cycles(bot, 1, step_ms=100)
    assert listed.is_set()
    assert targets_are_unique(env), "dora placed quotes it already had"
    env.client.fetch_resting_orders = fetch_orders  # type: ignore[method-assign]
    env.client.fetch_user_data_timestamp = fetch_timestamp  # type: ignore[method-assign]
    env.cycles(bot, 4)
    assert targets_are_unique(env)
    assert sum(s.cancel_404_stale for s in bot.summaries) == 0


def _watch_reads(env: BotEnv, bot: Bot, *, operator_waits_for_listing: bool) -> list[str]:
    """Wrap the listing and the operator items' read: the order they started in. With
    ``operator_waits_for_listing`` the DynamoDB read holds until the listing has gone out, which
    only a read sent beside it can do (sent before it, it would wait for nothing, in vain)."""
    started: list[str] = []
    listing_sent = threading.Event()
    fetch_orders, read_items = env.client.fetch_resting_orders, bot.persister.read_operator_items

    def listing(*args: Any, **kwargs: Any) -> Any:
        started.append("listing")
        listing_sent.set()
        return fetch_orders(*args, **kwargs)

    def operator_items() -> Any:
        started.append("operator items")
        if operator_waits_for_listing:
            assert listing_sent.wait(10), "the operator items were read before the listing went out"
        return read_items()

    env.client.fetch_resting_orders = listing  # type: ignore[method-assign]
    bot.persister.read_operator_items = operator_items  # type: ignore[method-assign]
    return started


def quoting_bot(bot_env_factory: Callable[..., BotEnv]) -> tuple[BotEnv, Bot]:
    env = bot_env_factory(markets=3, flow=False)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    return env, bot


def test_the_operator_items_go_out_with_the_exchange_reads_and_a_halt_acts_in_its_cycle(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env, bot = quoting_bot(bot_env_factory)
    assert env.resting()
    started = _watch_reads(env, bot, operator_waits_for_listing=True)
    operator = env.operator_store()
    operator.load_state()
    operator.save_risk_state(RiskState(trading_halted=True, halt_reason="operator"))
    env.cycles(bot, 1)
    assert "operator items" in started and "listing" in started
    assert env.resting() == [], "the halt read beside the listing did not act in its cycle"


def test_with_a_recalibration_due_the_operator_items_and_the_sync_come_before_the_listing(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env, bot = quoting_bot(bot_env_factory)
    env.operator_store().set_global_fields({"recalibrate_every_s": Decimal(1)})
    env.cycles(bot, 1)  # adopted: from here a recalibration is due every cycle (1 s a cycle)
    started = _watch_reads(env, bot, operator_waits_for_listing=False)
    env.cycles(bot, 1)
    # the operator items, the recalibration's own listing, then the cycle's listing
    assert started[:1] == ["operator items"] and started.count("listing") >= 2, started
    assert targets_are_unique(env)


@contextmanager
def _while_running(step: Callable[[], object], *, every_s: float) -> Iterator[None]:
    """``step`` again and again on a thread of its own while the block runs."""
    running = threading.Event()
    running.set()

    def repeat() -> None:
        while running.is_set():
            step()
            time.sleep(every_s)

    thread = threading.Thread(target=repeat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        running.clear()
        thread.join(5)


def _creates_arrived(sim: RunningSim) -> int:
    return sum(1 for e in sim.context.counters.journal_entries()
               if e.moment == "arrived" and f"{e.method} {e.template}" == CREATE)


def _dora_resting(sim: RunningSim) -> int:
    with sim.lock:
        orders = sim.engine.orders(sim.user_id, status=None)
    return sum(1 for o in orders
               if o.status.value == "resting" and o.client_order_id.startswith("dora-"))


def test_a_stop_during_a_places_phase_in_waves_sends_no_later_wave(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str,
) -> None:
    """On the basic tier 24 creates in batches of 2 go out in waves the write tokens pay for
    (about 5 batches, then one at a time). A stop requested once the first create batch has
    reached the exchange (judged from its journal) lets the batches on their way finish and
    sends no other: the exchange holds exactly what those batches placed."""
    bot, sim, tickers = real_time_bot(sim_factory, dynamo_endpoint, markets=12, max_batch=2,
                                      tier="basic")
    move_books(sim, tickers, 0)
    bot.startup()
    sim.context.counters.reset()

    def stop_at_first_create() -> None:
        if _creates_arrived(sim):
            bot.stop.set()

    with _while_running(stop_at_first_create, every_s=0.002):
        summary = bot.run_cycle()
    creates = _creates_arrived(sim)
    assert 1 <= creates <= 5, f"{creates} create batches reached the exchange"
    assert _dora_resting(sim) == summary.placed == 2 * creates
    assert summary.failed == 0  # the creates not sent are stopped, not failed
    bot.shutdown(reason="test")


@pytest.mark.parametrize("mode", [Mode.BATCH, Mode.PER_MARKET])
def test_a_places_phase_longer_than_the_lease_keeps_it_and_no_one_takes_over(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str, mode: Mode,
) -> None:
    """A 2 s lease, and 48 creates on the basic tier: a places phase of about 4 s. The lease is
    renewed between its waves (in per-market mode, between its orders), so a standby watching
    the lease item all along never finds it free, and every create is sent under a lease with
    half its time left (none refused): the exchange holds all 48."""
    config = {**GLOBAL_CONFIG, "lease_duration_ms": Decimal(2_000)}
    bot, sim, tickers = real_time_bot(sim_factory, dynamo_endpoint, markets=24, max_batch=2,
                                      tier="basic", global_config=config, mode=mode)
    move_books(sim, tickers, 0)
    bot.startup()
    standby = LeaseKeeper(bot.persister.leases, SystemClock(), logging.getLogger("dora.test"),
                          owner="standby@test", shards=1, lease_ms=2_000)
    took: list[bool] = []
    with _while_running(lambda: took.append(standby.poll(force=True)), every_s=0.1):
        summary = bot.run_cycle()
    assert summary.places_ms >= 2_000  # the phase outlasted the whole lease
    assert took and not any(took), "the standby took the lease during the places phase"
    assert summary.failed == 0
    assert _dora_resting(sim) == summary.placed == 48
    bot.shutdown(reason="test")


def test_a_long_places_phase_keeps_the_heartbeat_fresh(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str, tmp_path: Path,
) -> None:
    """The container's health check fails a heartbeat older than 60 s, and a full requote on a
    small tier can place for minutes: inside such a phase the file is rewritten between order
    writes (here every 0.5 s), naming the cycle under way. Not before a first cycle finished."""
    path = tmp_path / "heartbeat.json"
    bot, sim, tickers = real_time_bot(sim_factory, dynamo_endpoint, markets=24, max_batch=2,
                                      tier="basic", heartbeat_file=str(path),
                                      heartbeat_in_phase_s=0.5)
    bot.startup()
    assert not path.exists()
    bot.run_cycle()  # no books yet: nothing to quote, a quick cycle
    assert read_heartbeat(path).cycle == 1
    move_books(sim, tickers, 0)
    seen: list[Heartbeat] = []

    def watch() -> None:
        beat = read_heartbeat(path)
        if not seen or beat != seen[-1]:
            seen.append(beat)

    with _while_running(watch, every_s=0.05):
        summary = bot.run_cycle()
    assert summary.placed == 48 and summary.places_ms >= 2_000
    during = [b for b in seen if b.cycle == 2]
    assert len(during) >= 3, f"the heartbeat was rewritten {len(during)} times in the phase"
    gaps = [b.ts_ms - a.ts_ms for a, b in itertools.pairwise(during)]
    assert max(gaps) <= 1_500
    assert read_heartbeat(path).cycle == 2
    bot.shutdown(reason="test")


def _dora_orders(sim: RunningSim) -> list[Any]:
    with sim.lock:
        orders = sim.engine.orders(sim.user_id, status=None)
    return [o for o in orders if o.client_order_id.startswith("dora-")]


def test_creates_a_stale_plan_still_waits_for_are_left_to_the_next_cycle_on_fresh_reads(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """48 creates on the basic tier take about 4 s of write tokens. With ``max_plan_age_ms``
    1 s, no create reaches the exchange later than about that after the cycle's reads were sent
    (judged by the exchange's own creation times); the rest are deferred, not failed, and the
    next cycles place them from their own reads until every target rests exactly once."""
    caplog.set_level(logging.INFO, logger="dora.test")
    config = {**GLOBAL_CONFIG, "max_plan_age_ms": Decimal(1_000)}
    bot, sim, tickers = real_time_bot(sim_factory, dynamo_endpoint, markets=24, max_batch=2,
                                      tier="basic", global_config=config)
    move_books(sim, tickers, 0)
    bot.startup()
    caplog.clear()
    started_ms = time.time() * 1000
    first = bot.run_cycle()
    created = [o.created_ms for o in _dora_orders(sim)]
    assert created and max(created) <= started_ms + 1_000 + 500  # one wave's answer of slack
    assert 0 < first.placed < 48 and first.orders_deferred == 48 - first.placed
    assert first.failed == 0 and _dora_resting(sim) == first.placed
    (line,) = [r for r in caplog.records if r.__dict__.get("event_type") == "BATCH_PLACE_SUMMARY"]
    assert line.__dict__["deferred"] == first.orders_deferred  # the log says it too
    summaries = [first]
    while _dora_resting(sim) < 48 and len(summaries) < 10:
        summaries.append(bot.run_cycle())
    assert _dora_resting(sim) == sum(s.placed for s in summaries) == 48
    assert all(s.failed == 0 for s in summaries) and summaries[-1].orders_deferred == 0
    per_target = Counter((o.ticker, o.side, o.price) for o in _dora_orders(sim)
                         if o.status.value == "resting")
    assert set(per_target.values()) == {1}
    bot.shutdown(reason="test")


def test_markets_whose_creates_a_stale_plan_left_go_first_in_the_next_cycle(
    sim_factory: Callable[..., RunningSim], dynamo_endpoint: str,
) -> None:
    """Every book moves every cycle and the tokens pay for only part of each requote: were the
    creates sent in ticker order each cycle, the last markets would never be quoted. The
    markets the first cycle left unquoted are the first the second cycle quotes (judged by the
    exchange's own creation times)."""
    config = {**GLOBAL_CONFIG, "max_plan_age_ms": Decimal(1_000)}
    bot, sim, tickers = real_time_bot(sim_factory, dynamo_endpoint, markets=24, max_batch=2,
                                      tier="basic", global_config=config)
    move_books(sim, tickers, 0)
    bot.startup()
    assert bot.run_cycle().orders_deferred > 0
    left = set(tickers) - {o.ticker for o in _dora_orders(sim)}
    assert left and min(left) > min(tickers)  # ticker order: the first markets were quoted
    move_books(sim, tickers, 1)
    before = {o.order_id for o in _dora_orders(sim)}
    assert bot.run_cycle().placed > 0
    created = [o for o in _dora_orders(sim) if o.order_id not in before]
    first = min(created, key=lambda o: (o.created_ms, o.order_id))
    assert first.ticker in left, f"{first.ticker} quoted first; {sorted(left)} waited"
    bot.shutdown(reason="test")
