"""deploy/dora.yaml agrees with the code: the tables are the ones `dora init-db` creates, the task
role allows the calls the store makes and no more, the container gets the settings dora reads,
and every alarm and dashboard metric is one dora emits. (`make lint` runs cfn-lint on it.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from dora.bot.loop import LoopSettings
from dora.bot.metrics import CYCLE_METRICS, FATAL_EXIT, GROUP_METRICS, NAMESPACE
from dora.store.tables import PITR_RECOVERY_DAYS, TTL_ATTRIBUTE, TTL_TABLES, table_specs

TEMPLATE = Path(__file__).parents[2] / "deploy" / "dora.yaml"
TABLE_RESOURCES = {
    "dora_market_config": "MarketConfigTable", "dora_state": "StateTable",
    "dora_trade_log": "TradeLogTable", "dora_decision_log": "DecisionLogTable",
    "dora_execution_log": "ExecutionLogTable",
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template, problems = decode(str(TEMPLATE))
    assert not problems
    return dict(template["Resources"])


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize(("base", "logical"), sorted(TABLE_RESOURCES.items()))
def test_the_stack_tables_are_the_init_db_tables(resources, base, logical) -> None:
    table = resources[logical]
    props = _plain(table["Properties"])
    assert props["TableName"] == {"Fn::Sub": f"{base}_${{Env}}"}
    spec = table_specs()[base]
    assert props["KeySchema"] == spec["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        spec["AttributeDefinitions"], key=str)
    assert props.get("GlobalSecondaryIndexes", []) == spec.get("GlobalSecondaryIndexes", [])
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": PITR_RECOVERY_DAYS}
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    ttl = props.get("TimeToLiveSpecification")
    assert (ttl == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}) == (base in TTL_TABLES)


def test_the_task_role_allows_only_dora_tables_and_no_scan_but_the_config_load(resources) -> None:
    (policy,) = resources["TaskRole"]["Properties"]["Policies"]
    statements = _plain(policy["PolicyDocument"]["Statement"])
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "*" not in json.dumps(statement["Resource"])
        assert all(a.startswith("dynamodb:") for a in statement["Action"])
    scans = [s for s in statements if "dynamodb:Scan" in s["Action"]]
    assert [s["Resource"] for s in scans] == [{"Fn::GetAtt": ["MarketConfigTable", "Arn"]}]
    state = next(s for s in statements if s["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]})
    # versioned state and the shard leases (dora/store/versioned.py, dora/store/lease.py):
    # batch reads, conditional puts and updates, and the lease's ConditionCheck in every state
    # transaction; lease items are never deleted
    assert set(state["Action"]) == {"dynamodb:GetItem", "dynamodb:BatchGetItem",
                                    "dynamodb:PutItem", "dynamodb:UpdateItem",
                                    "dynamodb:ConditionCheckItem"}


def test_the_container_gets_what_dora_reads_and_the_key_only_as_secrets(resources) -> None:
    (container,) = _plain(resources["TaskDefinition"]["Properties"]["ContainerDefinitions"])
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert set(env) == {"AWS_REGION", "DORA_SHARDS", "DORA_HEARTBEAT_FILE"}
    assert {s["Name"] for s in container["Secrets"]} == {"KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY"}
    assert LoopSettings().shutdown_budget_s < container["StopTimeout"] <= 120
    assert container["HealthCheck"]["Command"] == ["CMD", "python", "-m", "dora.cli.health"]
    assert container["ReadonlyRootFilesystem"] is True
    assert env["DORA_HEARTBEAT_FILE"].startswith("/tmp/")
    assert any(m["ContainerPath"] == "/tmp" for m in container["MountPoints"])


def test_the_service_overlaps_tasks_and_rolls_back(resources) -> None:
    props = _plain(resources["Service"]["Properties"])
    deployment = props["DeploymentConfiguration"]
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (100, 200)
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    template, _ = decode(str(TEMPLATE))
    tasks = {shards: row["Tasks"] for shards, row in template["Mappings"]["ShardTasks"].items()}
    assert all(count == int(shards) + 1 for shards, count in tasks.items())  # + one standby


def _metric_names(value: Any) -> set[str]:
    """MetricName fields and dashboard ["Dora", "<name>", ...] rows anywhere in a resource."""
    text = json.dumps(_plain(value))
    names = set(re.findall(r'"MetricName": "(\w+)"', text))
    names |= set(re.findall(r'\\"Dora\\", \\"(\w+)\\"', text))
    return names


def test_every_alarm_and_dashboard_metric_is_one_dora_emits(resources) -> None:
    emitted = {spec.name for spec in CYCLE_METRICS} | {FATAL_EXIT.name}
    emitted |= {f"{prefix}_{group}" for prefix in GROUP_METRICS.values()
                for group in ("order_writes", "portfolio", "markets")}
    alarms = {name: r for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"HaltedAlarm", "FatalExitAlarm", "SilentAlarm", "RateLimitAlarm",
                           "FailedOrdersAlarm", "DailyPnlAlarm", "GroupTriggeredAlarm"}
    used = set().union(*(_metric_names(r) for r in alarms.values()))
    used |= _metric_names(resources["Dashboard"])
    assert len(used) > 10
    assert used <= emitted, used - emitted
    assert NAMESPACE in json.dumps(_plain(resources["Dashboard"]))
