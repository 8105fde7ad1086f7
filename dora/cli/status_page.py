"""`dora run --http`: serve the live status page next to the loop (dora/web/server.py)."""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace

from dora.bot.snapshot import SnapshotHolder, SnapshotPublisher
from dora.core.errors import ConfigError
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event
from dora.web.server import DEFAULT_PORT, HttpSettings, StatusServer, parse_bind

TOKEN_VARIABLE = "DORA_HTTP_TOKEN"
OFF = "off"


def resolve_http(
    spec: str | None, *, embedded: bool, environ: Mapping[str, str]
) -> HttpSettings | None:
    """The page's address: ``--http`` when given (``off`` disables it), else loopback port 8750
    for the embedded local run and nothing otherwise."""
    token = environ.get(TOKEN_VARIABLE) or None
    if spec is not None and spec.strip().lower() == OFF:
        return None
    if spec is None:
        return HttpSettings("127.0.0.1", DEFAULT_PORT, token) if embedded else None
    return parse_bind(spec, token)


@contextmanager
def serving_status_page(
    spec: str | None, *, embedded: bool, environ: Mapping[str, str], clock: Clock,
    labels: Sequence[tuple[str, str]] = (),
) -> Iterator[SnapshotPublisher | None]:
    """Starts the server before the loop (the page says "starting" until the first cycle) and
    stops it after; yields the publisher the loop feeds, or None when the page is off."""
    settings = resolve_http(spec, embedded=embedded, environ=environ)
    if settings is None:
        yield None
        return
    log = logging.getLogger("dora.web")
    holder = SnapshotHolder()
    server = _bind(settings, holder, clock, log, any_port=spec is None).start()
    sys.stderr.write(f"status page: {server.url}\n")
    sys.stderr.flush()
    log_event(log, EventType.STARTUP, "status page serving", url=server.url,
              token_required=settings.token is not None)
    try:
        yield SnapshotPublisher(holder, log, labels=labels)
    finally:
        server.stop()


def _bind(
    settings: HttpSettings, holder: SnapshotHolder, clock: Clock, log: logging.Logger, *,
    any_port: bool,
) -> StatusServer:
    """The default port may be taken (a second local run): then any free port will do."""
    try:
        return StatusServer(holder, clock, settings, log)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE and any_port:
            return StatusServer(holder, clock, replace(settings, port=0), log)
        raise ConfigError(f"cannot serve the status page on {settings.host}:{settings.port}: "
                          f"{exc.strerror or exc}") from exc
