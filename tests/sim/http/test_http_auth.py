"""Kalshi authentication over HTTP: /portfolio/* needs a valid signature; market data does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dora.sim.http.auth import MAX_CLOCK_SKEW_MS
from dora.sim.runner import RunningSim
from tests.sim.http.helpers import API_PREFIX, Api, assert_error, control
from tests.sim.http.signing import auth_headers, sign


def test_market_data_needs_no_signature(sim: RunningSim) -> None:
    assert Api(sim).get("/markets", signed=False).status_code == 200


def test_signed_portfolio_request_succeeds(sim: RunningSim) -> None:
    assert Api(sim).get("/portfolio/balance").status_code == 200


def test_missing_headers_are_401(sim: RunningSim) -> None:
    response = Api(sim).get("/portfolio/balance", signed=False)
    assert_error(response, 401, "authentication_error")


def test_bad_signature_is_401(sim: RunningSim) -> None:
    api = Api(sim)
    path = API_PREFIX + "/portfolio/orders"
    headers = auth_headers(api.key, sim.key_id, "GET", path, sim.clock.now_ms())
    headers["KALSHI-ACCESS-SIGNATURE"] = auth_headers(
        api.key, sim.key_id, "GET", path + "/other", sim.clock.now_ms())["KALSHI-ACCESS-SIGNATURE"]
    response = api.session.get(sim.url + "/portfolio/orders", headers=headers, timeout=5)
    assert_error(response, 401, "authentication_error")


@pytest.mark.parametrize("skew_ms", [MAX_CLOCK_SKEW_MS + 1_000, -(MAX_CLOCK_SKEW_MS + 1_000)])
def test_stale_or_future_timestamp_is_401(sim: RunningSim, skew_ms: int) -> None:
    response = Api(sim).get("/portfolio/balance", ts_ms=sim.clock.now_ms() + skew_ms)
    assert_error(response, 401, "authentication_error")


def test_unknown_key_id_is_401(sim: RunningSim) -> None:
    response = Api(sim, key_id="not-a-registered-key").get("/portfolio/balance")
    assert_error(response, 401, "authentication_error")


def test_query_string_is_not_signed(sim: RunningSim) -> None:
    api = Api(sim)
    ok = api.get("/portfolio/orders", params={"limit": "5", "status": "resting"})
    assert ok.status_code == 200
    stamp = sim.clock.now_ms()
    with_query = API_PREFIX + "/portfolio/orders?limit=5"
    headers = {
        "KALSHI-ACCESS-KEY": sim.key_id,
        "KALSHI-ACCESS-TIMESTAMP": str(stamp),
        "KALSHI-ACCESS-SIGNATURE": sign(api.key, f"{stamp}GET{with_query}".encode()),
    }
    response = api.session.get(sim.url + "/portfolio/orders?limit=5", headers=headers, timeout=5)
    assert_error(response, 401, "authentication_error")


def test_ed25519_account_registered_through_control(sim: RunningSim, tmp_path: Path) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    answer = control(sim, "POST", "/accounts", {"key_id": "ed-key", "public_key": public_pem,
                                                "cash": "50.00"})
    assert answer.status_code == 201 and "private_key" not in answer.json()
    key_path = tmp_path / "ed.pem"
    key_path.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    balance = Api(sim, key_path, "ed-key").get("/portfolio/balance").json()
    assert balance["balance_dollars"] == "50.0000"
