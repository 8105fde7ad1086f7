"""Which tables (and exchange) an operator command acts on, chosen explicitly.

An operator command needs one of: ``--env sim|demo|prod``; ``--local`` (the stack a running
``make run`` / embedded ``dora run`` describes in ``.dora-local/endpoints.env``); or
``DORA_DYNAMODB_ENDPOINT`` / ``DORA_TABLE_ENV`` in the environment. Without any of them a command
that writes refuses (it would otherwise write the ``_sim`` tables of whatever AWS account the
credentials reach, e.g. `dora halt` in the production account halting nothing); a read goes on
against the ``_sim`` tables and says so on stderr.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from dora.cli.config import ENVIRONMENTS

LOCAL_DIR = Path(".dora-local")
ENDPOINTS_FILE = LOCAL_DIR / "endpoints.env"
EXCHANGE_URL_KEY = "DORA_EXCHANGE_URL"
PID_KEY = "DORA_LOCAL_PID"
_EXPLICIT_ENV_VARS = ("DORA_DYNAMODB_ENDPOINT", "DORA_TABLE_ENV", "DORA_SIM_READY_FILE")
NO_TARGET_HINT = (
    "no environment chosen. Give --env sim|demo|prod (the tables' suffix; AWS settings pick the "
    "account), or --local for the stack `make run` started (.dora-local/endpoints.env), or set "
    "DORA_DYNAMODB_ENDPOINT for another local DynamoDB. Without one this command would write the "
    "_sim tables of whatever AWS account your credentials reach."
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Target:
    env: str  # sim | demo | prod (DORA_TABLE_ENV in ``environ`` may still override the suffix)
    environ: Mapping[str, str]  # the process environment, plus the local endpoints with --local
    local: bool = False

    @property
    def exchange_url(self) -> str | None:
        return self.environ.get(EXCHANGE_URL_KEY) or None


def resolve_target(
    env: str | None, local: bool, *, writes: bool, environ: Mapping[str, str] | None = None,
    endpoints_file: Path = ENDPOINTS_FILE,
) -> Target:
    base = dict(os.environ if environ is None else environ)
    if local:
        if env not in (None, "sim"):
            raise click.UsageError(f"--local is the local simulated stack, not --env {env}")
        return Target("sim", {**base, **read_endpoints(endpoints_file)}, local=True)
    if env is not None:
        return Target(env, base)
    if any(base.get(name) for name in _EXPLICIT_ENV_VARS):
        return Target(base.get("DORA_TABLE_ENV") or "sim", base)
    if writes:
        raise click.UsageError(NO_TARGET_HINT)
    click.echo("note: no --env given; reading the _sim tables (give --env or --local)", err=True)
    return Target("sim", base)


def target_options(*, writes: bool) -> Callable[[F], F]:
    """Adds ``--env`` and ``--local`` to a command and hands it ``target=`` instead."""
    def decorate(fn: F) -> F:
        @click.option("--local", is_flag=True,
                      help="Act on the local stack `make run` started (.dora-local/endpoints.env).")
        @click.option("--env", "env", type=click.Choice(ENVIRONMENTS), default=None,
                      help="Which environment's tables (DORA_TABLE_ENV overrides the suffix).")
        @functools.wraps(fn)
        def command(*args: Any, env: str | None, local: bool, **kwargs: Any) -> Any:
            return fn(*args, target=resolve_target(env, local, writes=writes), **kwargs)
        return command  # type: ignore[return-value]
    return decorate


# -- .dora-local/endpoints.env ------------------------------------------------------------------
def write_endpoints(path: Path, values: Mapping[str, str]) -> None:
    """KEY=value lines (also `set -a; . .dora-local/endpoints.env` in a shell), written atomically
    and readable by this user only (it names the local key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# dora's embedded local stack; removed when that `dora run` stops.",
             "# Operator commands use it with --local, e.g. dora status --local"]
    lines += [f"{key}={value}" for key, value in values.items()]
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.chmod(0o600)
    os.replace(partial, path)


def remove_endpoints(path: Path, pid: int) -> None:
    """Remove the file if it still describes this process's stack (not a newer run's)."""
    try:
        if _parse(path.read_text()).get(PID_KEY) == str(pid):
            path.unlink()
    except FileNotFoundError:
        pass


def read_endpoints(path: Path) -> dict[str, str]:
    try:
        values = _parse(path.read_text())
    except FileNotFoundError:
        raise click.ClickException(
            f"--local: no {path} here; start the local stack with `make run` (or `dora run`) in "
            "this directory first, and run operator commands from the same directory"
        ) from None
    pid = values.get(PID_KEY, "")
    if not pid.isdigit() or not _alive(int(pid)):
        raise click.ClickException(
            f"--local: {path} is left over from a dora run (pid {pid or '?'}) that is no longer "
            "running; start `make run` again"
        )
    return values


def _parse(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
