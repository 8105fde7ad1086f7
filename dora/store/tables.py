"""dora's DynamoDB tables: names, key schemas, indexes, TTL, and the boto3 resource.

Key attribute names match the tables the predecessor's dashboard and manager already read, so an
existing table is reused as it is (``create_tables`` only adds what is missing: the table, or TTL).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from boto3.session import Session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dora.core.errors import ConfigError, StoreError
from dora.runtime.clock import Clock

TABLES = (
    "dora_market_config",
    "dora_state",
    "dora_trade_log",
    "dora_decision_log",
    "dora_execution_log",
)
MARKET_CONFIG, STATE, TRADE_LOG, DECISION_LOG, EXECUTION_LOG = TABLES

# The predecessor's attribute name; dora's values in it are unique per fill.
TRADE_SORT_KEY = "timestamp#order_id"
EXECUTION_SORT_KEY = "decision_id#event_ts"
DECISION_INDEX = "market_id-timestamp-index"
EXECUTION_INDEX = "decision_id_event_ts"
TTL_ATTRIBUTE = "expires_at"
TTL_TABLES = (DECISION_LOG, EXECUTION_LOG)
PITR_RECOVERY_DAYS = 35  # the longest DynamoDB keeps (docs/aws-notes.md#tables)

# No client-side parameter validation: botocore documents it as the switch to turn off for
# performance, and DynamoDB checks every request itself (a refused one is a ValidationException,
# which the store handles). It was ~10 % of dora's CPU in a 50-market cycle (docs/aws-notes.md).
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3,
                     read_timeout=10, parameter_validation=False)
LOOPBACK_BOTO_CONFIG = BOTO_CONFIG.merge(Config(defaults_mode="legacy"))
DUMMY_CREDENTIALS = {"aws_access_key_id": "dora-local", "aws_secret_access_key": "dora-local"}
TABLE_ACTIVE_POLLS = 120
NO_CREDENTIALS_HINT = (
    "no AWS credentials found for DynamoDB (looked in the environment, AWS_PROFILE and the shared "
    "files, the ECS container endpoint and the instance metadata). Set AWS_PROFILE, or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_REGION; or point DORA_DYNAMODB_ENDPOINT "
    "at a local DynamoDB (operator commands: --local for the stack `make run` started)"
)
_ENV_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def table_names(env: str) -> dict[str, str]:
    """Base name -> ``<base>_<env>``."""
    if not _ENV_NAME.fullmatch(env):
        raise ValueError(f"table environment must be a short alphanumeric name, got {env!r}")
    return {base: f"{base}_{env}" for base in TABLES}


# Any two DynamoDB service resources compare equal (they have no identifiers), so how one was
# made is kept on the resource itself, not in a mapping keyed by resources.
_ORIGIN_ATTR = "_dora_origin"


@dataclass(frozen=True)
class _Origin:
    """The session a resource came from and the endpoint it was asked for (None: AWS's own)."""

    session: Session
    endpoint_url: str | None


def make_dynamodb_resource(
    endpoint_url: str | None, region: str, *, config: Config | None = None
) -> Any:
    """A boto3 DynamoDB resource with bounded timeouts and standard retries (``config``, when
    given, overrides some of them).

    A loopback endpoint (the embedded local server) always gets the dummy credentials and the
    legacy defaults mode: the credential chain and the "auto" defaults mode both probe the EC2
    metadata address, and an assume-role profile calls STS, while local mode must contact loopback
    addresses only. Another explicit endpoint uses the standard chain, with the dummy credentials
    when it finds none; no endpoint means real AWS and the standard chain. The dummy credentials
    are passed explicitly, so nothing in ``os.environ`` changes, and the resource comes from the
    session whose chain was checked (not boto3's process-wide default session).

    Real AWS without credentials fails here, at once, with a ConfigError that says what to set:
    otherwise every DynamoDB call would fail later, after the chain's metadata probes.
    """
    session = Session(region_name=region)
    resource = session.resource("dynamodb", **_connection(session, endpoint_url, region, config))
    setattr(resource, _ORIGIN_ATTR, _Origin(session, endpoint_url))  # for plain_client_like
    return resource


def plain_client_like(resource: Any) -> Any:
    """A low-level DynamoDB client connected as the resource connects (its endpoint, region,
    timeouts and retries) without boto3's resource layer: it takes and gives DynamoDB's
    attribute-value JSON (``{"S": "text"}``), which the caller encodes itself
    (:func:`dora.store.codec.to_wire_item`: the resource layer's encoding was most of the log
    writer's CPU, docs/aws-notes.md#log-writes). On AWS's own endpoint, the client finds its
    endpoint and credentials as the resource did (the standard chain, and a ConfigError without
    credentials, never the dummy ones an explicit endpoint falls back to).

    A resource made by :func:`make_dynamodb_resource` lends the client its session, so the two
    share one parsed copy of DynamoDB's service model (a second session parses its own: ~10 MiB
    resident, docs/aws-notes.md#log-writes), and the endpoint it was asked for, AWS-hosted ones
    such as FIPS or VPC endpoints included. For a resource made elsewhere, an endpoint on AWS's
    domain is taken for AWS's own."""
    meta = resource.meta.client.meta
    origin: _Origin | None = getattr(resource, _ORIGIN_ATTR, None)
    if origin is None:
        endpoint = None if _is_aws_endpoint(meta.endpoint_url) else meta.endpoint_url
        origin = _Origin(Session(region_name=meta.region_name), endpoint)
    session, region = origin.session, meta.region_name
    return session.client("dynamodb",
                          **_connection(session, origin.endpoint_url, region, meta.config))


def _is_aws_endpoint(endpoint_url: str) -> bool:
    host = (urlsplit(endpoint_url).hostname or "").lower()
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def _connection(
    session: Session, endpoint_url: str | None, region: str, config: Config | None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"region_name": region, "config": BOTO_CONFIG}
    if endpoint_url and is_loopback_endpoint(endpoint_url):
        kwargs.update(DUMMY_CREDENTIALS, endpoint_url=endpoint_url, config=LOOPBACK_BOTO_CONFIG)
    elif endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
        if session.get_credentials() is None:
            kwargs.update(DUMMY_CREDENTIALS)
    elif session.get_credentials() is None:
        raise ConfigError(NO_CREDENTIALS_HINT)
    if config is not None:
        kwargs["config"] = kwargs["config"].merge(config)
    return kwargs


def is_loopback_endpoint(endpoint_url: str) -> bool:
    """True when the URL's host is localhost, 127.0.0.0/8 or ::1 (also IPv4-mapped)."""
    return is_loopback_host(urlsplit(endpoint_url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (also IPv4-mapped), brackets or not."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


@contextmanager
def store_boundary(action: str) -> Iterator[None]:
    """Map botocore failures to StoreError (transient for the loop), once, here."""
    try:
        yield
    except ClientError as exc:
        raise StoreError(f"{action}: {error_code(exc)}: {exc}") from exc
    except BotoCoreError as exc:
        raise StoreError(f"{action}: {exc}") from exc


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _attributes(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _keys(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _index(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {"IndexName": name, "KeySchema": _keys(hash_key, range_key),
            "Projection": {"ProjectionType": "ALL"}}


def table_specs() -> dict[str, dict[str, Any]]:
    """CreateTable arguments (without TableName) per base name."""
    return {
        MARKET_CONFIG: {"KeySchema": _keys("market_id"),
                        "AttributeDefinitions": _attributes("market_id")},
        STATE: {"KeySchema": _keys("key"), "AttributeDefinitions": _attributes("key")},
        TRADE_LOG: {"KeySchema": _keys("date", TRADE_SORT_KEY),
                    "AttributeDefinitions": _attributes("date", TRADE_SORT_KEY)},
        DECISION_LOG: {
            "KeySchema": _keys("date", "timestamp"),
            "AttributeDefinitions": _attributes("date", "timestamp", "market_id"),
            "GlobalSecondaryIndexes": [_index(DECISION_INDEX, "market_id", "timestamp")],
        },
        EXECUTION_LOG: {
            "KeySchema": _keys("bot_run_id", EXECUTION_SORT_KEY),
            "AttributeDefinitions": _attributes("bot_run_id", EXECUTION_SORT_KEY, "decision_id",
                                                "event_ts"),
            "GlobalSecondaryIndexes": [_index(EXECUTION_INDEX, "decision_id", "event_ts")],
        },
    }


def create_tables(client: Any, names: dict[str, str], clock: Clock) -> list[str]:
    """Create the missing tables as the production stack defines them (deploy/dora.yaml):
    PAY_PER_REQUEST, deletion protection, point-in-time recovery, TTL on the log tables.

    Existing tables keep their keys and data; PITR and TTL are switched on where they are off
    (deletion protection is left as an existing table has it: an operator may have removed it on
    purpose). Returns the names of the tables created.
    """
    created: list[str] = []
    specs = table_specs()
    with store_boundary("create tables"):
        for base, spec in specs.items():
            if _create_if_missing(client, names[base], spec):
                created.append(names[base])
        for base in TABLES:
            _wait_active(client, names[base], clock)
            _ensure_point_in_time_recovery(client, names[base])
        for base in TTL_TABLES:
            _ensure_ttl(client, names[base])
    return created


def _create_if_missing(client: Any, name: str, spec: dict[str, Any]) -> bool:
    try:
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            DeletionProtectionEnabled=True, **spec)
    except ClientError as exc:
        if error_code(exc) == "ResourceInUseException":
            return False
        raise
    return True


def _wait_active(client: Any, name: str, clock: Clock) -> None:
    for _ in range(TABLE_ACTIVE_POLLS):
        if client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            return
        clock.sleep(1.0)
    raise StoreError(f"table {name} did not become ACTIVE")


def _ensure_point_in_time_recovery(client: Any, name: str) -> None:
    described = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    recovery = described.get("PointInTimeRecoveryDescription", {})
    if recovery.get("PointInTimeRecoveryStatus") == "ENABLED":
        return
    client.update_continuous_backups(
        TableName=name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True,
                                          "RecoveryPeriodInDays": PITR_RECOVERY_DAYS},
    )


def _ensure_ttl(client: Any, name: str) -> None:
    described = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if described.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
