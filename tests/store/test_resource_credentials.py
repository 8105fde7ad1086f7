"""Which credentials the DynamoDB resource gets, and that local mode stays on loopback."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3.session
import pytest

from dora.core.errors import ConfigError
from dora.store.localdb import start_local_dynamodb
from dora.store.store import make_dynamodb_resource
from dora.store.tables import plain_client_like

MIB = 1024 * 1024
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_EC2_METADATA_DISABLED", "AWS_DEFAULTS_MODE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ENDPOINT_URL",
)
ROLE_PROFILE = """\
[profile dora-role]
role_arn = arn:aws:iam::123456789012:role/dora
source_profile = dora-keys

[profile dora-keys]
aws_access_key_id = AKIDSOURCE
aws_secret_access_key = source-secret
"""


@pytest.fixture
def no_aws_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS variables and no AWS files; the metadata probe is left enabled, as on a laptop.
    Returns the path AWS_CONFIG_FILE points at (absent until a test writes it)."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    return config


@pytest.fixture
def outside_lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every non-loopback host anything tries to resolve; each such lookup fails."""
    attempted: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES:
            attempted.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"this test forbids contacting {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    yield attempted


def _access_key(resource: Any) -> str:
    return _client_key(resource.meta.client)


def _client_key(client: Any) -> str:
    return str(client._request_signer._credentials.access_key)


def _configure_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "configured")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "configured")


def test_loopback_endpoint_never_walks_the_credential_chain(
    no_aws_setup: Path, outside_lookups: list[str]
) -> None:
    resource = make_dynamodb_resource("http://127.0.0.1:1", "us-east-1")
    assert _access_key(resource) == "dora-local"
    assert outside_lookups == []  # the chain's last step would have probed 169.254.169.254


@pytest.mark.parametrize("client_of", [lambda resource: resource.meta.client, plain_client_like],
                         ids=["resource", "log writer's low-level twin"])
def test_loopback_endpoint_ignores_an_assume_role_profile(
    no_aws_setup: Path, outside_lookups: list[str], monkeypatch: pytest.MonkeyPatch,
    client_of: Callable[[Any], Any],
) -> None:
    no_aws_setup.write_text(ROLE_PROFILE)
    monkeypatch.setenv("AWS_PROFILE", "dora-role")
    with start_local_dynamodb() as local:
        client = client_of(make_dynamodb_resource(local.endpoint_url, "us-east-1"))
        assert client.list_tables()["TableNames"] == []
    assert _client_key(client) == "dora-local"
    assert outside_lookups == []  # the role's credentials would have come from STS


def test_loopback_endpoint_does_not_probe_metadata_in_auto_defaults_mode(
    no_aws_setup: Path, outside_lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULTS_MODE", "auto")
    make_dynamodb_resource("http://127.0.0.1:1", "us-east-1")
    assert outside_lookups == []


@pytest.mark.parametrize("endpoint", [
    "http://127.0.0.1:8000", "http://127.45.6.7:8000", "https://127.0.0.1", "http://localhost:8000",
    "http://LOCALHOST:8000", "http://[::1]:8000", "http://[::ffff:127.0.0.1]:8000",
])
def test_every_loopback_endpoint_gets_the_dummy_credentials_even_when_keys_are_configured(
    no_aws_setup: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    _configure_keys(monkeypatch)
    assert _access_key(make_dynamodb_resource(endpoint, "us-east-1")) == "dora-local"


@pytest.mark.parametrize("endpoint", [
    "http://10.0.0.7:8000", "http://dynamodb.internal.example:8000",
    "http://localhost.example.com:8000", "http://127.0.0.1.nip.io:8000", "http://[::2]:8000",
])
def test_other_endpoints_keep_the_standard_credential_chain(
    no_aws_setup: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    _configure_keys(monkeypatch)
    assert _access_key(make_dynamodb_resource(endpoint, "us-east-1")) == "configured"


def test_other_endpoint_with_no_credentials_anywhere_gets_the_dummy_ones(
    no_aws_setup: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    resource = make_dynamodb_resource("http://dynamodb.internal.example:8000", "us-east-1")
    assert _access_key(resource) == "dora-local"


def test_real_aws_uses_the_standard_credential_chain(
    no_aws_setup: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure_keys(monkeypatch)
    assert _access_key(make_dynamodb_resource(None, "us-east-1")) == "configured"


def test_the_twin_of_a_resource_on_aws_finds_its_endpoint_and_credentials_as_the_resource_did(
    no_aws_setup: Path, outside_lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure_keys(monkeypatch)
    resource = make_dynamodb_resource(None, "eu-west-1")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # the twin has the resource's, found when it was made
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    twin = plain_client_like(resource)
    assert twin.meta.endpoint_url == resource.meta.client.meta.endpoint_url
    assert _client_key(twin) == "configured"


@pytest.mark.parametrize("endpoint", [
    "https://dynamodb-fips.us-east-1.amazonaws.com",
    "https://vpce-0abc-1234.dynamodb.us-east-1.vpce.amazonaws.com",
])
def test_the_twin_keeps_an_aws_hosted_endpoint_the_resource_was_given(
    endpoint: str, no_aws_setup: Path, outside_lookups: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _configure_keys(monkeypatch)
    twin = plain_client_like(make_dynamodb_resource(endpoint, "us-east-1"))
    assert twin.meta.endpoint_url == endpoint  # a FIPS or VPC endpoint, not the public one
    assert _client_key(twin) == "configured"


def test_the_twin_of_another_resource_on_aws_without_credentials_fails_at_once(
    no_aws_setup: Path, outside_lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure_keys(monkeypatch)
    resource = boto3.session.Session(region_name="eu-west-1").resource("dynamodb")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError):  # never the dummy keys an explicit endpoint would get
        plain_client_like(resource)


def test_the_twin_shares_the_resource_s_parsed_service_model(no_aws_setup: Path) -> None:
    resource = make_dynamodb_resource("http://127.0.0.1:9", "us-east-1")
    tracemalloc.start()
    try:
        plain_client_like(resource)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MIB  # parsing DynamoDB's model again takes ~10 MiB
