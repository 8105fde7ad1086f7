"""Helpers for the lifecycle tests: the local exchange's controls and its own record of dora."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import requests

from dora.bot.loop import Bot
from tests.conftest import BotEnv

PREFIX = "dora-"


def control(env: BotEnv, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{env.sim.control_url}{path}", json=body, timeout=5)
    response.raise_for_status()
    return dict(response.json())


def configure(env: BotEnv, ticker: str, **fields: Any) -> None:
    item = env.store.get_market_config_item(ticker) or {"market_id": ticker}
    env.store.put_market_config_item({**item, **fields})


def flags(env: BotEnv, **fields: Any) -> None:
    env.store.set_global_fields({k: Decimal(v) if isinstance(v, int) else v
                                 for k, v in fields.items()})


def resting_by_market(env: BotEnv) -> Counter[str]:
    """dora's resting orders per market, as the exchange holds them."""
    return Counter(o.ticker for o in env.resting(PREFIX))


def created(env: BotEnv) -> int:
    """Every create dora's account ever got through (the exchange's own orders record)."""
    with env.sim.lock:
        orders = env.sim.engine.orders("dora", status=None)
    return sum(1 for o in orders if o.client_order_id.startswith(PREFIX))


def requests_to(env: BotEnv, key: str) -> int:
    return int(env.sim_counters()["requests"].get(key, 0))


def statuses(env: BotEnv) -> dict[str, int]:
    return dict(env.sim_counters()["status"])


def run(env: BotEnv, bot: Bot, cycles: int, step_ms: int = 1000) -> None:
    env.cycles(bot, cycles, step_ms)
