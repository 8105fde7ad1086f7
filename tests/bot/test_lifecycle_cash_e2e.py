"""Too little cash for every market: dora quotes the ones it can afford, in the stated order,
and sends nothing to the others (assertions on the exchange's own orders)."""

from __future__ import annotations

from typing import Any

from dora.bot.state import Mode
from dora.core.calibration import CASH, StepStatus
from dora.core.models import Side
from tests.bot.lifecycle_helpers import PREFIX


def test_with_cash_for_two_markets_of_three_dora_quotes_exactly_the_affordable_two(
    bot_env_factory: Any,
) -> None:
    env = bot_env_factory(markets=3, flow=False, starting_cash=11_000_000)  # $11
    bot = env.make_bot(Mode.BATCH)
    bot.startup()
    report = bot.state.calibration
    step = report.step(CASH) if report else None
    assert step is not None and step.status is StepStatus.WARN, step
    unaffordable = [name for name, text in step.details if text.endswith(": not affordable")]
    assert len(unaffordable) == 1, step.details
    env.cycles(bot, 5)
    with env.sim.lock:
        sent = [o for o in env.sim.engine.orders("dora", status=None)
                if o.client_order_id.startswith(PREFIX)]
    assert sent and not [o for o in sent if o.ticker in unaffordable]  # never sent there
    sides = {(o.ticker, o.side) for o in env.resting(PREFIX)}
    assert sides == {(t, s) for t in env.tickers if t not in unaffordable
                     for s in (Side.BID, Side.ASK)}
