"""The exchange's trading pause and its real rate limits, against the local exchange: assertions are
on the exchange's own record (its orders and the requests it admitted or refused)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dora.bot.loop import Bot
from dora.bot.state import Mode
from dora.core.errors import NotFoundError
from dora.core.tiers import Bucket, Tier, tier_named
from dora.sim.http.limits import ServerLimiter
from tests.bot.lifecycle_helpers import control, created, requests_to, resting_by_market
from tests.conftest import BotEnv

BATCH_CREATE = "POST /portfolio/events/orders/batched"


def test_startup_on_a_paused_exchange_places_nothing_and_quotes_within_two_cycles_of_its_end(
    bot_env_factory: Any,
) -> None:
    env = bot_env_factory(markets=3, flow=False)
    pause_ms = 12_000
    control(env, "/trading_active", {"active": False, "duration_ms": pause_ms})
    ends_at = env.clock.now_ms() + pause_ms
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    listings_before = requests_to(env, "GET /portfolio/orders")
    cycles_after_end = None
    for _ in range(30):
        bot.run_cycle()
        if env.clock.now_ms() < ends_at:
            assert created(env) == 0, "placed while the exchange was paused"
            assert requests_to(env, BATCH_CREATE) == 0, "sent creates into the pause"
        elif resting_by_market(env).keys() == set(env.tickers):
            cycles_after_end = bot.cycle - cycles_at(ends_at, bot, env)
            break
        env.clock.advance_ms(1000)
    assert requests_to(env, "GET /portfolio/orders") > listings_before  # it kept reconciling
    assert cycles_after_end is not None and cycles_after_end <= 2


def cycles_at(ends_at: int, bot: Any, env: BotEnv) -> int:
    """The cycle number that ran first at or after ``ends_at`` (cycles are one second apart)."""
    return bot.cycle - (env.clock.now_ms() - ends_at) // 1000


def record_admissions(env: BotEnv) -> list[tuple[str, int, bool]]:
    """The exchange's own record of every request it billed: (endpoint, items, admitted)."""
    limiter: ServerLimiter = env.sim.context.limiter
    admit = limiter.admit
    seen: list[tuple[str, int, bool]] = []

    def recording(account: str, method: str, template: str, items: int = 1) -> bool:
        admitted = admit(account, method, template, items)
        seen.append((f"{method} {template}", items, admitted))
        return admitted

    limiter.admit = recording  # type: ignore[method-assign]
    return seen


def test_a_tier_above_the_accounts_is_replaced_by_its_real_limits_and_nothing_is_refused(
    bot_env_factory: Any,
) -> None:
    """The client is told "prestige"; the account is basic. At startup dora reads the
    account's limits and sizes every batch for them: the exchange refuses nothing."""
    env = bot_env_factory(markets=12, flow=False)
    control(env, "/tier", {"tier": "basic"})
    seen = record_admissions(env)
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 4)
    assert [s for s in seen if not s[2]] == []
    assert bot.client.limiter.tier == tier_named("basic")
    assert resting_by_market(env).keys() == set(env.tickers)
    creates = [items for key, items, _ in seen if key == BATCH_CREATE]
    assert creates and max(creates) <= 10  # a basic write bucket holds 100 tokens: 10 creates


def test_a_downgrade_mid_run_is_found_without_refusing_any_batch_twice(
    bot_env_factory: Any,
) -> None:
    """The account drops to basic while dora runs at prestige: the first refused batch cuts the
    assumed budget (the next batch is at most half as large), the account's limits are read
    again, and dora converges to the real budget; no batch size is refused twice."""
    env = bot_env_factory(markets=12, flow=False)
    bot, refused = downgrade_mid_run(env)
    assert all(n == 1 for n in refused.values()), refused
    assert bot.client.limiter.tier == tier_named("basic")


def test_without_the_limits_endpoint_the_budget_cut_alone_converges(
    bot_env_factory: Any,
) -> None:
    """The same downgrade where the exchange does not offer its limits (as if 404): only the
    AIMD cut of the assumed budget after each 429 finds the real one. Each cut halves the
    batch below the refused one and the rate: a few refusals while the rate comes down from
    prestige's 8000/s toward basic's 100/s, then none."""
    env = bot_env_factory(markets=12, flow=False)
    bot, refused = downgrade_mid_run(env, limits_offered=False)
    assert sum(refused.values()) <= 8, refused
    assert bot.client.limiter.budget(Bucket.WRITE).reduced


def downgrade_mid_run(env: BotEnv, *, limits_offered: bool = True) -> tuple[Bot, Counter[int]]:
    """Run at prestige, drop the account to basic with every quote replaced at once; the
    refused batch-create sizes (and how often each) as the exchange recorded them."""
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    env.cycles(bot, 2)
    if not limits_offered:
        def not_offered() -> Tier:
            raise NotFoundError("404 on GET /account/limits")
        bot.client.fetch_account_limits = not_offered  # type: ignore[method-assign]
    control(env, "/tier", {"tier": "basic"})
    for ticker in env.tickers:  # new quotes everywhere: every order is replaced at once
        control(env, f"/markets/{ticker}/fair_value", {"fair_value": "0.31"})
        with env.sim.lock:
            env.sim.engine.seed_book(ticker)
    seen = record_admissions(env)
    env.cycles(bot, 40)
    refused = Counter(items for key, items, ok in seen if key == BATCH_CREATE and not ok)
    assert refused, "the downgrade never showed: the test exercised nothing"
    late = seen[len(seen) * 3 // 4:]
    assert all(ok for _, _, ok in late), "still refused at the end: no convergence"
    assert resting_by_market(env).keys() == set(env.tickers)
    return bot, refused
