from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests

from dora.core.models import RiskState
from dora.runtime.clock import FakeClock
from dora.store.localdb import start_local_dynamodb
from dora.store.store import Store, make_dynamodb_resource


def test_local_dynamodb_serves_a_real_round_trip_on_loopback() -> None:
    local = start_local_dynamodb()
    try:
        url = urlparse(local.endpoint_url)
        assert url.hostname == "127.0.0.1"
        assert url.port and url.port > 0
        store = Store(make_dynamodb_resource(local.endpoint_url, "us-east-1"), "localdb",
                      FakeClock())
        assert len(store.create_tables()) == 5
        store.load_state()
        store.save_risk_state(RiskState(daily_pnl=-42, trading_halted=True, halt_reason="x"))
        again = Store(make_dynamodb_resource(local.endpoint_url, "us-east-1"), "localdb",
                      FakeClock())
        assert again.load_state().risk == RiskState(daily_pnl=-42, trading_halted=True,
                                                    halt_reason="x")
    finally:
        local.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(local.endpoint_url, timeout=2)
    local.stop()  # a second stop is harmless

