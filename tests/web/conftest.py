"""A bot against the local exchange and DynamoDB, publishing snapshots to a real status server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.snapshot import SnapshotHolder, SnapshotPublisher
from dora.web.server import HttpSettings, StatusServer
from tests.conftest import BotEnv


@dataclass
class Watched:
    env: BotEnv
    bot: Bot
    holder: SnapshotHolder
    server: StatusServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def watched_bot(bot_env_factory: Callable[..., BotEnv]) -> Iterator[Callable[..., Watched]]:
    servers: list[StatusServer] = []

    def make(markets: int = 3, token: str | None = None, **sim: object) -> Watched:
        env = bot_env_factory(markets=markets, **sim)
        holder = SnapshotHolder()
        logger = logging.getLogger("dora.test")
        publisher = SnapshotPublisher(holder, logger, labels=(("env", env.env_name),))
        run_id = "20260101-000000-web000"
        bot = Bot(env.client, Persister(env.store, logger, run_id), env.clock, logger,
                  LoopSettings(interval_ms=0), run_id, threading.Event(), snapshots=publisher)
        env.bots.append(bot)
        bot.startup()
        server = StatusServer(holder, env.clock, HttpSettings("127.0.0.1", 0, token),
                              logger).start()
        servers.append(server)
        return Watched(env, bot, holder, server)

    yield make
    for server in servers:
        server.stop()
