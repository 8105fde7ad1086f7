from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from dora.core.errors import ConfigError
from dora.store.store import TABLES, Store, make_dynamodb_resource, table_names
from dora.store.tables import table_specs


def _describe(resource: Any, name: str) -> dict[str, Any]:
    table: dict[str, Any] = resource.meta.client.describe_table(TableName=name)["Table"]
    return table


def _ttl(resource: Any, name: str) -> dict[str, Any]:
    client = resource.meta.client
    ttl: dict[str, Any] = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return ttl


def test_table_names_are_suffixed_with_the_environment() -> None:
    assert table_names("prod") == {base: f"{base}_prod" for base in TABLES}


@pytest.mark.parametrize("env", ["", "a b", "x/y"])
def test_table_names_reject_unusable_environment_names(env: str) -> None:
    with pytest.raises(ValueError):
        table_names(env)


def test_create_tables_is_idempotent(make_store: Any) -> None:
    store = make_store()
    first = store.create_tables()
    assert sorted(first) == sorted(f"{base}_test" for base in TABLES)
    assert store.create_tables() == []
    assert make_store().create_tables() == []


def test_tables_have_the_key_schemas_the_dashboard_reads(store: Store, resource: Any) -> None:
    keys = {
        base: [(k["AttributeName"], k["KeyType"]) for k in _describe(resource, name)["KeySchema"]]
        for base, name in store.names.items()
    }
    assert keys == {
        "dora_market_config": [("market_id", "HASH")],
        "dora_state": [("key", "HASH")],
        "dora_trade_log": [("date", "HASH"), ("timestamp#order_id", "RANGE")],
        "dora_decision_log": [("date", "HASH"), ("timestamp", "RANGE")],
        "dora_execution_log": [("bot_run_id", "HASH"), ("decision_id#event_ts", "RANGE")],
    }


def test_tables_are_on_demand(store: Store, resource: Any) -> None:
    for name in store.names.values():
        table = _describe(resource, name)
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize(
    ("base", "index", "keys"),
    [
        ("dora_decision_log", "market_id-timestamp-index", ["market_id", "timestamp"]),
        ("dora_execution_log", "decision_id_event_ts", ["decision_id", "event_ts"]),
    ],
)
def test_log_tables_have_their_indexes(
    store: Store, resource: Any, base: str, index: str, keys: list[str]
) -> None:
    described = _describe(resource, store.names[base])["GlobalSecondaryIndexes"]
    indexes = {i["IndexName"]: i for i in described}
    assert [k["AttributeName"] for k in indexes[index]["KeySchema"]] == keys
    assert indexes[index]["Projection"]["ProjectionType"] == "ALL"


@pytest.mark.parametrize("base", ["dora_decision_log", "dora_execution_log"])
def test_log_tables_have_ttl_on_expires_at(store: Store, resource: Any, base: str) -> None:
    ttl = _ttl(resource, store.names[base])
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert ttl["AttributeName"] == "expires_at"


def test_an_existing_table_is_kept_but_gets_ttl(make_store: Any, resource: Any) -> None:
    name = "dora_decision_log_test"
    spec = table_specs()["dora_decision_log"]
    resource.meta.client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)
    resource.Table(name).put_item(Item={"date": "2025-12-01", "timestamp": "old", "x": 1})

    created = make_store().create_tables()

    assert name not in created
    assert resource.Table(name).get_item(Key={"date": "2025-12-01", "timestamp": "old"})["Item"]
    assert _ttl(resource, name)["TimeToLiveStatus"] == "ENABLED"


def test_tables_have_point_in_time_recovery_and_deletion_protection(
    store: Store, resource: Any
) -> None:
    client = resource.meta.client
    for name in store.names.values():
        assert _describe(resource, name)["DeletionProtectionEnabled"] is True
        backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        recovery = backups["PointInTimeRecoveryDescription"]
        assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
        assert recovery["RecoveryPeriodInDays"] == 35
    with pytest.raises(ClientError, match="DeletionProtectionEnabled"):
        client.delete_table(TableName=store.names["dora_state"])


def test_an_existing_table_gets_point_in_time_recovery(make_store: Any, resource: Any) -> None:
    name = "dora_state_test"
    spec = table_specs()["dora_state"]
    resource.meta.client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)

    make_store().create_tables()

    backups = resource.meta.client.describe_continuous_backups(TableName=name)
    status = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert status["PointInTimeRecoveryStatus"] == "ENABLED"


def test_real_aws_without_credentials_fails_at_once_with_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="no AWS credentials") as raised:
        make_dynamodb_resource(None, "us-east-1")
    assert "AWS_PROFILE" in str(raised.value)
    assert "DORA_DYNAMODB_ENDPOINT" in str(raised.value)
