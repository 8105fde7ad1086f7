"""Process settings: resolved once from the CLI and the environment, then frozen.

Secrets never live here: credentials are loaded by :mod:`dora.exchange.credentials` and are masked
in every repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dora.core.errors import ConfigError
from dora.core.shards import MAX_SHARDS

ENVIRONMENTS = ("sim", "demo", "prod")
KNOWN_ENV_VARS = (
    "DORA_TABLE_ENV",
    "DORA_DYNAMODB_ENDPOINT",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "KALSHI_API_KEY_ID",
    "KALSHI_PRIVATE_KEY_PATH",
    "KALSHI_PRIVATE_KEY",
    "DORA_SIM_READY_FILE",
    "DORA_SHARDS",
    "DORA_HEARTBEAT_FILE",
)


@dataclass(frozen=True, slots=True)
class RunSettings:
    env: str  # sim | demo | prod: which exchange
    url: str | None  # explicit exchange base URL (wins over env)
    ready_file: str | None  # a `dora sim --ready-file` to read the URL and key from
    table_env: str  # DynamoDB table suffix
    dynamodb_endpoint: str | None
    region: str
    tier: str
    # --shards or DORA_SHARDS: how many shards the markets are split into (one lease each, one
    # process per lease); None: the global config's `shards`, else 1
    shards: int | None = None

    @property
    def embedded(self) -> bool:
        """Run the local exchange and local DynamoDB in-process (the `make run` default)."""
        return (
            self.env == "sim" and self.url is None and self.ready_file is None
            and self.dynamodb_endpoint is None
        )


def resolve_settings(
    *, env: str, url: str | None, tier: str, environ: Mapping[str, str],
    shards: int | None = None,
) -> RunSettings:
    """``shards`` (``--shards``) wins over DORA_SHARDS."""
    if env not in ENVIRONMENTS:
        raise ConfigError(f"--env must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must start with http:// or https://, got {url!r}")
    table_env = environ.get("DORA_TABLE_ENV") or ("sim" if url else env)
    if table_env not in ENVIRONMENTS:
        raise ConfigError(f"DORA_TABLE_ENV must be one of {', '.join(ENVIRONMENTS)}")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    shards_text = environ.get("DORA_SHARDS") or ""
    if shards_text and (not shards_text.isdigit() or not 1 <= int(shards_text) <= MAX_SHARDS):
        raise ConfigError(f"DORA_SHARDS must be a whole number from 1 to {MAX_SHARDS}, "
                          f"got {shards_text!r}")
    return RunSettings(
        env=env,
        url=url,
        ready_file=environ.get("DORA_SIM_READY_FILE") or None,
        table_env=table_env,
        dynamodb_endpoint=environ.get("DORA_DYNAMODB_ENDPOINT") or None,
        region=region,
        tier=tier,
        shards=shards or (int(shards_text) if shards_text else None),
    )
