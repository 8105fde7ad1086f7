"""Start a local Kalshi exchange in this process: engine, seeded markets, dora's account and key,
HTTP server on a loopback port, and a background ticker that runs the outside flow."""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

from dora.core.models import TsMs
from dora.core.tiers import tier_named
from dora.core.units import Micros, Price
from dora.runtime.clock import Clock, SystemClock
from dora.sim.engine.engine import Engine
from dora.sim.http.auth import KeyRegistry, generate_key_pair
from dora.sim.http.context import SimContext
from dora.sim.http.control import CONTROL_PREFIX
from dora.sim.http.counters import RequestCounters
from dora.sim.http.knobs import Knobs, KnobValues
from dora.sim.http.limits import ServerLimiter
from dora.sim.http.server import API_PREFIX, SimApp, SimServer

DORA_USER_ID = "dora"  # the account the CLI's/fixture's key trades as
EVENT_TICKER = "SIM-EVT"
MARKET_TICKER = "SIM-MKT-{:02d}"
SEEDED_CLOSE_AFTER_MS = 7 * 24 * 3_600_000
_STRUCTURES = ("linear_cent", "tapered_deci_cent")
_FAIR_LOW, _FAIR_HIGH = 2_000, 8_000

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimSettings:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    markets: int = 5
    tier: str = "basic"
    latency_ms: int = 0
    lag_ms: int = 0
    fault_rate: Fraction = Fraction(0)
    lost_response_rate: Fraction = Fraction(0)
    flow: bool = True
    starting_cash: Micros = 1_000_000 * 1_000_000  # $1,000,000 for the dora account
    public_key_path: str | None = None
    key_id: str | None = None
    rate_limits: bool = True  # False: never answer 429 (benchmarks)
    tick_ms: int = 50  # background engine.advance() cadence; 0 = only when requests arrive

    def __post_init__(self) -> None:
        tier_named(self.tier)
        if self.markets < 0 or self.tick_ms < 0:
            raise ValueError("markets and tick_ms must not be negative")
        if self.public_key_path is not None and not self.key_id:
            raise ValueError("a public key needs its key id")


@dataclass(frozen=True, slots=True)
class SeedMarket:
    ticker: str
    price_level_structure: str
    fair_value: Price
    fractional: bool
    maker_fees: bool


def seeded_markets(count: int) -> list[SeedMarket]:
    """SIM-MKT-00.. with alternating tick structures and fair values spread over 0.20-0.80."""
    specs = []
    for i in range(count):
        span = (_FAIR_HIGH - _FAIR_LOW) * i // max(count - 1, 1)
        fair = (_FAIR_LOW + span) // 100 * 100
        specs.append(SeedMarket(
            ticker=MARKET_TICKER.format(i),
            price_level_structure=_STRUCTURES[i % len(_STRUCTURES)],
            fair_value=fair,
            fractional=i % 3 == 2,
            maker_fees=i % 4 == 3,
        ))
    return specs


class RunningSim:
    """A started sim; ``stop()`` (or leaving the ``with`` block) shuts it down."""

    def __init__(self, ctx: SimContext, server: SimServer, key_id: str, user_id: str,
                 private_key_path: str | None, tick_ms: int) -> None:
        host, port = str(server.server_address[0]), int(server.server_address[1])
        base = f"http://{host}:{port}"
        self.url = base + API_PREFIX
        self.control_url = base + CONTROL_PREFIX
        self.key_id = key_id
        self.user_id = user_id
        self.private_key_path = private_key_path
        self.context = ctx
        self.engine: Engine = ctx.engine
        self.lock = ctx.lock
        self.clock = ctx.clock
        self._server = server
        self._stopped = threading.Event()
        self._threads = [
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name="dora-sim-http", daemon=True),
        ]
        if tick_ms > 0:
            self._threads.append(threading.Thread(
                target=self._tick_forever, args=(tick_ms / 1000,), name="dora-sim-tick",
                daemon=True))
        for thread in self._threads:
            thread.start()

    def _tick_forever(self, interval_s: float) -> None:
        while not self._stopped.wait(interval_s):
            try:
                with self.lock:
                    self.context.tick()
            except Exception:
                log.exception("sim ticker failed")

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.stopped = True
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RunningSim:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _seed_markets(engine: Engine, count: int, now_ms: TsMs) -> None:
    for spec in seeded_markets(count):
        engine.add_market(
            spec.ticker, close_ms=now_ms + SEEDED_CLOSE_AFTER_MS, event_ticker=EVENT_TICKER,
            price_level_structure=spec.price_level_structure, fractional=spec.fractional,
            maker_fees=spec.maker_fees, fair_value=spec.fair_value,
        )


def _register_key(
    settings: SimSettings, registry: KeyRegistry, key_dir: str | Path | None
) -> tuple[str, str, str | None]:
    """(key_id, user_id, private_key_path or None) for dora's account."""
    if settings.public_key_path is not None and settings.key_id:
        public_pem = Path(settings.public_key_path).read_bytes()
        key_id, private_path = settings.key_id, None
    else:
        directory = Path(key_dir) if key_dir is not None else Path(
            tempfile.mkdtemp(prefix="dora-sim-keys-"))
        generated = generate_key_pair(directory, settings.key_id)
        key_id, public_pem, private_path = (
            generated.key_id, generated.public_pem, str(generated.private_key_path))
    registry.register(key_id, public_pem, DORA_USER_ID)
    return key_id, DORA_USER_ID, private_path


def build_context(settings: SimSettings, clock: Clock) -> SimContext:
    knobs = Knobs(KnobValues(
        latency_ms=settings.latency_ms, lag_ms=settings.lag_ms, fault_rate=settings.fault_rate,
        lost_response_rate=settings.lost_response_rate, flow=settings.flow,
    ), seed=settings.seed)
    engine = Engine(clock, seed=settings.seed)
    engine.configure_flow(None, enabled=settings.flow)
    _seed_markets(engine, settings.markets, clock.now_ms())
    return SimContext(
        engine=engine, lock=threading.RLock(), clock=clock, knobs=knobs,
        counters=RequestCounters(), registry=KeyRegistry(),
        limiter=ServerLimiter(tier_named(settings.tier), clock, enabled=settings.rate_limits),
    )


def start_sim(settings: SimSettings, *, clock: Clock | None = None,
              key_dir: str | Path | None = None) -> RunningSim:
    """Build and start a sim; it is listening when this returns."""
    ctx = build_context(settings, clock or SystemClock())
    key_id, user_id, private_path = _register_key(settings, ctx.registry, key_dir)
    ctx.engine.open_account(user_id, settings.starting_cash)
    server = SimServer((settings.host, settings.port), SimApp(ctx))
    return RunningSim(ctx, server, key_id, user_id, private_path, settings.tick_ms)
