"""A tiny signed HTTP client for the sim's tests (independent of dora.exchange)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from dora.sim.runner import RunningSim
from tests.sim.http.signing import auth_headers, load_private_key

API_PREFIX = "/trade-api/v2"


def order_body(**overrides: Any) -> dict[str, Any]:
    """A valid resting GTC bid well away from the seeded fair values."""
    body: dict[str, Any] = {
        "ticker": "SIM-MKT-00", "side": "bid", "count": "5.00", "price": "0.05",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


class Api:
    def __init__(self, sim: RunningSim, key_path: str | Path | None = None,
                 key_id: str | None = None) -> None:
        self.sim = sim
        self.key = load_private_key(key_path or sim.private_key_path or "")
        self.key_id = key_id or sim.key_id
        self.session = requests.Session()

    def call(self, method: str, path: str, *, params: Any = None, json: Any = None,
             signed: bool = True, ts_ms: int | None = None) -> requests.Response:
        headers = {}
        if signed:
            stamp = self.sim.clock.now_ms() if ts_ms is None else ts_ms
            headers = auth_headers(self.key, self.key_id, method, API_PREFIX + path, stamp)
        return self.session.request(method, self.sim.url + path, params=params, json=json,
                                    headers=headers, timeout=10)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, **kwargs)

    def create(self, **overrides: Any) -> dict[str, Any]:
        response = self.post("/portfolio/events/orders", json=order_body(**overrides))
        assert response.status_code == 201, response.text
        return dict(response.json())


def control(sim: RunningSim, method: str, path: str, json: Any = None) -> requests.Response:
    return requests.request(method, sim.control_url + path, json=json, timeout=10)


def add_trader(sim: RunningSim, tmp_path: Path, cash: str = "100000") -> Api:
    """A second account, made through the control surface with a generated key."""
    answer = control(sim, "POST", "/accounts", {"cash": cash}).json()
    key_path = tmp_path / f"{answer['key_id']}.pem"
    key_path.write_text(answer["private_key"])
    return Api(sim, key_path, answer["key_id"])


def assert_error(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["service"] == "exchange", error
    return str(error["message"])
