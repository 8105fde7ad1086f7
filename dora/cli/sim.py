"""``dora sim``: run the local Kalshi exchange until SIGTERM/SIGINT.

Once listening, it writes the ready file (JSON: url, control_url, key_id, and private_key_path
when the sim generated the key) and prints the same JSON on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from types import FrameType

import click

from dora.core.tiers import TIERS
from dora.core.units import UnitError, parse_micros
from dora.sim.runner import RunningSim, SimSettings, start_sim

_WAIT_SLICE_S = 0.2


class _Rate(click.ParamType[Fraction]):
    name = "rate"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> Fraction:
        if isinstance(value, Fraction):
            return value
        try:
            rate = Fraction(str(value))
        except (ValueError, ZeroDivisionError):
            self.fail(f"{value!r} is not a number like 0.05 or 1/20", param, ctx)
        if not 0 <= rate <= 1:
            self.fail(f"{value} is outside [0, 1]", param, ctx)
        return rate


def _dollars(value: str) -> int:
    try:
        return parse_micros(value)
    except UnitError as exc:
        raise click.BadParameter(str(exc)) from None


@contextmanager
def _key_folder(key_dir: Path | None) -> Iterator[Path]:
    if key_dir is not None:
        yield key_dir
        return
    with tempfile.TemporaryDirectory(prefix="dora-sim-keys-") as folder:
        yield Path(folder)


def ready_info(sim: RunningSim) -> dict[str, str]:
    info = {"url": sim.url, "control_url": sim.control_url, "key_id": sim.key_id}
    if sim.private_key_path is not None:
        info["private_key_path"] = sim.private_key_path
    return info


def write_ready_file(path: Path, info: dict[str, str]) -> None:
    """Atomically: readers never see a half-written file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(partial, path)


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port; 0 picks a free one.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for flow and faults.")
@click.option("--markets", default=5, show_default=True, type=click.IntRange(0, 1000),
              help="How many SIM-MKT-NN markets to seed.")
@click.option("--tier", default="basic", show_default=True, type=click.Choice(list(TIERS)),
              help="Rate-limit tier.")
@click.option("--latency-ms", default=0, show_default=True, type=click.IntRange(0),
              help="Delay before every API answer.")
@click.option("--lag-ms", default=0, show_default=True, type=click.IntRange(0),
              help="User-data reads reflect the state this long ago.")
@click.option("--fault-rate", default="0", show_default=True, type=_Rate(),
              help="Share of API requests answered 503 before doing anything.")
@click.option("--lost-response-rate", default="0", show_default=True, type=_Rate(),
              help="Share of applied writes whose answer is lost (503 or dropped connection).")
@click.option("--flow/--no-flow", default=True, show_default=True,
              help="Outside traders resting and taking liquidity.")
@click.option("--starting-cash", default="1000000", show_default=True,
              help="Dollars in dora's account.")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write url/key JSON here once listening.")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="Register this public key PEM instead of generating a key pair.")
@click.option("--key-id", help="Key id for --public-key (or for the generated key).")
@click.option("--key-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where a generated private key is written (default: a temp dir removed at "
                   "exit).")
def sim_command(host: str, port: int, seed: int, markets: int, tier: str, latency_ms: int,
                lag_ms: int, fault_rate: Fraction, lost_response_rate: Fraction, flow: bool,
                starting_cash: str, ready_file: Path | None, public_key: str | None,
                key_id: str | None, key_dir: Path | None) -> None:
    """Run a local Kalshi exchange (V2 API on /trade-api/v2) until SIGTERM or Ctrl-C."""
    if public_key is not None and not key_id:
        raise click.UsageError("--public-key needs --key-id")
    settings = SimSettings(
        host=host, port=port, seed=seed, markets=markets, tier=tier, latency_ms=latency_ms,
        lag_ms=lag_ms, fault_rate=fault_rate, lost_response_rate=lost_response_rate, flow=flow,
        starting_cash=_dollars(starting_cash), public_key_path=public_key, key_id=key_id,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        # without --key-dir the generated key goes to a temporary folder removed at exit
        with _key_folder(key_dir) as folder, start_sim(settings, key_dir=folder) as sim:
            info = ready_info(sim)
            if ready_file is not None:
                write_ready_file(ready_file, info)
            click.echo(json.dumps(info))
            sys.stdout.flush()
            while not stop.wait(_WAIT_SLICE_S):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("dora sim stopped", err=True)
