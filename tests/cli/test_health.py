"""`dora health` (the container's health check) and the heartbeat file the loop rewrites."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dora.bot.state import Mode
from dora.cli.main import main
from dora.runtime.clock import SystemClock
from dora.runtime.health import Heartbeat, read_heartbeat, write_heartbeat


def _health(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["health", *args], env=env or {})


def test_the_loop_rewrites_the_heartbeat_after_every_cycle(bot_env_factory, tmp_path) -> None:
    env = bot_env_factory(markets=1)
    path = tmp_path / "beat" / "heartbeat.json"
    bot = env.make_bot(Mode.BATCH, heartbeat_file=str(path))
    bot.startup()
    assert not path.exists()  # healthy means a cycle finished, not that the process started
    env.cycles(bot, 1)
    first = read_heartbeat(path)
    env.cycles(bot, 2)
    latest = read_heartbeat(path)
    assert (first.cycle, latest.cycle) == (1, 3)
    assert latest.ts_ms - first.ts_ms == 2000  # the bot's clock, one second per cycle here
    assert latest.run_id == bot.run_id and latest.halted is False
    assert [p.name for p in path.parent.iterdir()] == ["heartbeat.json"]  # no partial files left


def test_health_is_ok_for_a_fresh_heartbeat(tmp_path) -> None:
    path = tmp_path / "heartbeat.json"
    write_heartbeat(path, Heartbeat(SystemClock().now_ms() - 2000, 41, "run-h", True))
    result = _health(env={"DORA_HEARTBEAT_FILE": str(path)})
    assert result.exit_code == 0, result.output
    assert "healthy: last progress" in result.output
    assert "cycle 41" in result.output and "trading halted" in result.output


def test_health_fails_for_a_stale_heartbeat(tmp_path) -> None:
    path = tmp_path / "heartbeat.json"
    write_heartbeat(path, Heartbeat(SystemClock().now_ms() - 90_000, 7, "run-h", False))
    result = _health("--file", str(path), "--max-age", "60")
    assert result.exit_code == 1
    assert "unhealthy" in result.output and "more than 60 s" in result.output
    assert _health("--file", str(path), "--max-age", "120").exit_code == 0


def test_health_fails_without_a_heartbeat_file_or_with_garbage(tmp_path) -> None:
    result = _health("--file", str(tmp_path / "missing.json"))
    assert result.exit_code == 1
    assert "no heartbeat file" in result.output
    garbage = tmp_path / "garbage.json"
    garbage.write_text(json.dumps({"cycle": 1}))
    result = _health("--file", str(garbage))
    assert result.exit_code == 1
    assert "unreadable" in result.output


def test_an_unwritable_heartbeat_is_logged_and_the_bot_keeps_trading(bot_env_factory,
                                                                      tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = bot_env_factory(markets=1)
    bot = env.make_bot(Mode.BATCH, heartbeat_file=str(Path(blocker) / "heartbeat.json"))
    bot.startup()
    summaries = env.cycles(bot, 2)
    assert summaries[-1].cycle == 2
    assert env.resting()  # still quoting
