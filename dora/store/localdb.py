"""A local DynamoDB endpoint on loopback (moto's server mode), for the embedded default and tests.

Nothing is downloaded and nothing leaves the machine: moto answers the DynamoDB API in-process on
127.0.0.1 and an ephemeral port. Its state lives in this process and is gone when it stops.

moto is the optional ``local`` extra (``pip install 'dora[local]'``): it is imported only when a
local endpoint starts, so the production image, which installs the runtime dependencies alone,
runs every other command without it.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dora.core.errors import ConfigError

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

LOOPBACK = "127.0.0.1"
LOCAL_EXTRA_HINT = (
    "the embedded local DynamoDB needs the optional local stack: pip install 'dora[local]' "
    "(or -r requirements/local.txt); in production give --env demo|prod instead"
)


class LocalStackUnavailable(ConfigError):
    """The ``local`` extra (moto's server) is not installed."""


@dataclass
class LocalDynamo:
    endpoint_url: str
    _server: ThreadedMotoServer = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the server; a second call does nothing."""
        if not self._stopped:
            self._stopped = True
            self._server.stop()
            # moto's stop() leaves the listening socket open; close it so it does not leak.
            wsgi_server = getattr(self._server, "_server", None)
            if wsgi_server is not None:
                wsgi_server.server_close()

    def __enter__(self) -> LocalDynamo:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_local_dynamodb() -> LocalDynamo:
    """Start moto's server on 127.0.0.1 with an ephemeral port and return its endpoint."""
    quiet = logging.getLogger("werkzeug")
    if quiet.level == logging.NOTSET:
        # one access-log line per DynamoDB call would drown dora's own logs
        quiet.setLevel(logging.WARNING)
    server = _moto_server_class()(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return LocalDynamo(endpoint_url=f"http://{host}:{port}", _server=server)


def _moto_server_class() -> type[ThreadedMotoServer]:
    try:
        module = importlib.import_module("moto.server")
    except ImportError as exc:
        raise LocalStackUnavailable(f"{LOCAL_EXTRA_HINT} ({exc})") from exc
    server_class: type[ThreadedMotoServer] = module.ThreadedMotoServer
    return server_class
