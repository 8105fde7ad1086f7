"""The live status line never stops the bot: a stream that goes away turns it off."""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import replace

from dora.bot.loop import Bot, LoopSettings
from dora.bot.persistence import Persister
from dora.bot.status import RECENT_SUMMARIES, RunTally, StatusSink, format_run_summary


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
    sink.finish(bot.tally)
    assert stream.writes == 1


def test_the_run_tally_keeps_the_recent_cycles_and_counts_every_one(bot_env_factory):
    """A long run must not keep every cycle's summary: the tally holds a bounded window, and
    the run summary's totals and median still cover every cycle."""
    env = bot_env_factory(markets=1)
    bot = env.make_bot()
    bot.startup()
    first = env.cycles(bot, 1)[0]
    tally = RunTally(recent=5)
    for n in range(1, 1_001):
        tally.add(replace(first, cycle=n, placed=1, duration_ms=n % 7))
    assert len(tally.recent) == 5 and tally.recent[-1].cycle == 1_000
    assert (tally.cycles, tally.placed) == (1_000, 1_000)
    everything = sorted(n % 7 for n in range(1, 1_001))
    assert tally.median_duration_ms() == everything[500]
    assert "1000 cycles, 1000 orders placed" in format_run_summary(tally)
    assert len(bot.summaries) == 1 and bot.tally.recent.maxlen == RECENT_SUMMARIES
