"""Throughput of the local exchange: ``python -m dora.sim.bench [--seconds S] [--threads N...]``.

Starts an in-process sim (rate limits off, outside flow on) and drives it from client threads
with a market maker's mix per round: 3 authenticated reads (resting orders, multi-book,
balance), one batch create of 10 orders and one batch cancel of them. Prints requests/s and
order operations/s. The clients' RSA signing runs in the same process, so the figures are
a floor for what the server alone can do.
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from dora.runtime.clock import SystemClock
from dora.sim.runner import RunningSim, SimSettings, start_sim

BATCH = 10
TICKERS = ("SIM-MKT-00", "SIM-MKT-01", "SIM-MKT-02", "SIM-MKT-03", "SIM-MKT-04")
PREFIX = "/trade-api/v2"


class _Signer:
    def __init__(self, key_path: str, key_id: str) -> None:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("the bench expects the sim's generated RSA key")
        self._key, self._key_id = key, key_id
        self._clock = SystemClock()

    def headers(self, method: str, path: str) -> dict[str, str]:
        stamp = str(self._clock.now_ms())
        signature = self._key.sign(
            f"{stamp}{method}{PREFIX}{path}".encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
        return {"KALSHI-ACCESS-KEY": self._key_id, "KALSHI-ACCESS-TIMESTAMP": stamp,
                "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode()}


@dataclass
class _Tally:
    requests: int = 0
    orders: int = 0
    errors: int = 0


def _order(worker: int, n: int, i: int) -> dict[str, str]:
    return {"ticker": TICKERS[i % len(TICKERS)], "side": "bid", "count": "1.00",
            "price": f"0.0{1 + i % 5}", "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "taker_at_cross",
            "client_order_id": f"bench-{worker}-{n}-{i}"}


def _round(session: requests.Session, sim: RunningSim, signer: _Signer, worker: int, n: int,
           tally: _Tally) -> None:
    def call(method: str, path: str, **kwargs: object) -> requests.Response:
        response = session.request(method, sim.url + path, headers=signer.headers(method, path),
                                   timeout=10, **kwargs)  # type: ignore[arg-type]
        tally.requests += 1
        tally.errors += response.status_code >= 400
        return response

    call("GET", "/portfolio/orders", params={"status": "resting", "limit": "200"})
    call("GET", "/markets/orderbooks", params=[("tickers", t) for t in TICKERS])
    call("GET", "/portfolio/balance")
    created = call("POST", "/portfolio/events/orders/batched",
                   json={"orders": [_order(worker, n, i) for i in range(BATCH)]})
    ids = [o["order_id"] for o in created.json().get("orders", []) if o.get("order_id")]
    if ids:
        call("DELETE", "/portfolio/events/orders/batched",
             json={"orders": [{"order_id": i} for i in ids]})
    tally.orders += 2 * len(ids)


def run(sim: RunningSim, threads: int, seconds: float) -> tuple[_Tally, float]:
    signer = _Signer(sim.private_key_path or "", sim.key_id)
    clock = SystemClock()
    deadline = clock.monotonic() + seconds
    tallies = [_Tally() for _ in range(threads)]

    def work(worker: int) -> None:
        session, n = requests.Session(), 0
        while clock.monotonic() < deadline:
            _round(session, sim, signer, worker, n, tallies[worker])
            n += 1

    started = clock.monotonic()
    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = clock.monotonic() - started
    total = _Tally(sum(t.requests for t in tallies), sum(t.orders for t in tallies),
                   sum(t.errors for t in tallies))
    return total, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    settings = SimSettings(seed=1, rate_limits=False, tier="prestige")
    with tempfile.TemporaryDirectory() as keys, start_sim(settings, key_dir=keys) as sim:
        print(f"sim at {sim.url}; mix per round: 3 signed reads + batch create {BATCH} "
              f"+ batch cancel {BATCH}")
        for threads in args.threads:
            tally, elapsed = run(sim, threads, args.seconds)
            print(f"threads={threads:2d}  {tally.requests / elapsed:8.1f} requests/s  "
                  f"{tally.orders / elapsed:8.1f} order ops/s  "
                  f"({tally.requests} requests, {tally.errors} errors, {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
