"""The live status line never stops the bot: a stream that goes away turns it off."""

from __future__ import annotations

import io
import logging
import threading

from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.status import StatusSink


class _ClosedPipe(io.StringIO):
    """What a pager that quit leaves behind: every write is a broken pipe."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_turns_the_status_line_off_and_the_bot_keeps_trading(bot_env_factory):
    env = bot_env_factory(markets=1)
    stream = _ClosedPipe()
    sink = StatusSink(stream)
    logger = logging.getLogger("dora.test")
    bot = Bot(env.client, Persister(env.store, logger, "run-pipe"), env.clock, logger,
              LoopSettings(interval_ms=0, max_cycles=4), "run-pipe", threading.Event(), sink)
    assert bot.run() == 0  # not a fatal error
    assert len(bot.summaries) == 4
    assert sink.enabled is False
    assert stream.writes == 1  # tried once, then stayed off
    sink.finish(bot.summaries)
    assert stream.writes == 1
