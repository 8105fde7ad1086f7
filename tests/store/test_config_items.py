from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dora.core.errors import StoreError
from dora.store.store import Store


def test_config_scan_follows_every_page(store: Store) -> None:
    for i in range(7):
        store.put_market_config_item({"market_id": f"KX-{i}", "enabled": True,
                                      "quote_size": Decimal(i)})
    items = store.load_market_config_items(page_size=2)
    assert sorted(i["market_id"] for i in items) == [f"KX-{i}" for i in range(7)]


def test_config_scan_crosses_the_one_megabyte_page_limit(store: Store) -> None:
    padding = "x" * 60_000
    for i in range(20):  # about 1.2 MB
        store.put_market_config_item({"market_id": f"KX-{i:02d}", "notes": padding})
    assert len(store.load_market_config_items()) == 20


def test_config_item_round_trips_unknown_fields(store: Store) -> None:
    item = {"market_id": "KXA", "enabled": False, "min_spread": Decimal("0.04"),
            "disabled_reason": "manager", "fair_value": None}
    store.put_market_config_item(item)
    assert store.get_market_config_item("KXA") == item
    assert store.get_market_config_item("KXB") is None


def test_config_item_needs_a_market_id(store: Store) -> None:
    with pytest.raises(ValueError):
        store.put_market_config_item({"enabled": True})


def test_set_global_fields_merges_and_keeps_other_keys(store: Store) -> None:
    store.set_global_fields({"use_batch_execution": True, "max_daily_loss": Decimal("100")})
    store.set_global_fields({"max_daily_loss": Decimal("50"), "trading_enabled": False})
    assert store.load_global_config_item() == {
        "use_batch_execution": True, "max_daily_loss": Decimal("50"), "trading_enabled": False,
    }


def test_global_config_is_none_when_absent(store: Store) -> None:
    assert store.load_global_config_item() is None


@pytest.mark.parametrize("fields", [{"key": "x"}, {"": 1}])
def test_set_global_fields_rejects_bad_names(store: Store, fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        store.set_global_fields(fields)


def test_missing_tables_surface_as_store_error(make_store: Any) -> None:
    store = make_store()  # tables never created
    with pytest.raises(StoreError):
        store.load_market_config_items()
    with pytest.raises(StoreError):
        store.load_state()
