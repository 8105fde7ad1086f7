"""start_sim / RunningSim: seeding, keys, lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from dora.sim.http.auth import generate_key_pair
from dora.sim.runner import RunningSim, SimSettings, seeded_markets, start_sim
from tests.sim.http.helpers import Api


def test_seeded_markets_spread_fair_values_and_structures() -> None:
    specs = seeded_markets(5)
    assert [s.ticker for s in specs] == [f"SIM-MKT-0{i}" for i in range(5)]
    assert [s.fair_value for s in specs] == [2000, 3500, 5000, 6500, 8000]
    assert {s.price_level_structure for s in specs} == {"linear_cent", "tapered_deci_cent"}
    assert any(s.fractional for s in specs)


def test_dora_account_starts_with_the_configured_cash(sim: RunningSim) -> None:
    balance = Api(sim).get("/portfolio/balance").json()
    assert balance["balance_dollars"] == "1000000.0000" and balance["balance"] == 100_000_000


def test_a_given_public_key_is_registered_and_no_private_key_is_made(
    sim_factory: Callable[..., RunningSim], tmp_path: Path
) -> None:
    generated = generate_key_pair(tmp_path, "my-key")
    public = tmp_path / "my-key.pub.pem"
    public.write_bytes(generated.public_pem)
    sim = sim_factory(public_key_path=str(public), key_id="my-key")
    assert sim.private_key_path is None and sim.key_id == "my-key"
    api = Api(sim, generated.private_key_path, "my-key")
    assert api.get("/portfolio/balance").status_code == 200


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        SimSettings(tier="gold")
    with pytest.raises(ValueError):
        SimSettings(public_key_path="/x.pem")


def test_stop_closes_the_port_and_is_idempotent(tmp_path: Path) -> None:
    with start_sim(SimSettings(markets=1), key_dir=tmp_path) as sim:
        assert requests.get(sim.url + "/exchange/status", timeout=5).status_code == 200
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.url + "/exchange/status", timeout=5)
