"""A loopback TCP proxy that can stop answering: the network faults of the chaos suite.

``pass`` relays bytes both ways. ``hang`` keeps every connection (old and new) open and relays
nothing, as a host that stopped answering does: callers wait for their own timeouts. ``refuse``
closes every connection and the listening socket, as a stopped service does. Besides,
:meth:`ChaosProxy.slow_down` holds back each request that names one of some markers (a table's
name) for a while before relaying it: one slow table, the others answering as usual; and
:meth:`ChaosProxy.lose_answers` relays the next requests that name a marker but never their
answers: the request is applied, the caller's connection closes without a reply.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Sequence
from enum import StrEnum

BUFFER = 65536


class Mode(StrEnum):
    PASS = "pass"
    HANG = "hang"
    REFUSE = "refuse"


class ChaosProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._mode = Mode.PASS
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self._slow: tuple[tuple[bytes, ...], float] = ((), 0.0)
        self._lose: tuple[bytes, int] = (b"", 0)  # marker, answers still to lose
        self.answers_lost = 0
        threading.Thread(target=self._accept_forever, name="chaos-proxy", daemon=True).start()

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        with self._lock:
            self._mode = mode
            if mode is Mode.REFUSE:
                self._close_all()

    def slow_down(self, markers: Sequence[bytes], seconds: float) -> None:
        """Every request bytes naming a marker waits ``seconds`` before it is relayed (on its own
        connection only); no markers: nothing waits."""
        self._slow = (tuple(markers), seconds)

    def lose_answers(self, marker: bytes, count: int) -> None:
        """The next ``count`` requests naming ``marker`` reach the server; their answers do not
        reach the caller (``answers_lost`` counts those lost so far)."""
        with self._lock:
            self._lose = (marker, count)

    def _doomed(self, request: bytes) -> bool:
        """Whether this request's answer is to be lost (taking one from the count)."""
        with self._lock:
            marker, left = self._lose
            if left <= 0 or marker not in request:
                return False
            self._lose = (marker, left - 1)
            return True

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._close_all()

    def _close_all(self) -> None:
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets.clear()

    def _accept_forever(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._mode is Mode.REFUSE:
                    client.close()
                    continue
                self._sockets.append(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = self._connect_upstream()
        if upstream is None:
            with contextlib.suppress(OSError):
                client.close()
            return
        peers = {client: upstream, upstream: client}
        doomed: set[socket.socket] = set()  # holds the client while its answer is to be lost
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while not self._closed.is_set():
                if self._mode is not Mode.PASS:  # hang: hold both ends open, relay nothing
                    if self._mode is Mode.REFUSE:
                        break
                    self._closed.wait(0.05)
                    continue
                if not self._pump(selector, peers, client, doomed):
                    break
        for sock in peers:
            with contextlib.suppress(OSError):
                sock.close()

    def _pump(self, selector: selectors.BaseSelector, peers: dict[socket.socket, socket.socket],
              client: socket.socket, doomed: set[socket.socket]) -> bool:
        for key, _ in selector.select(timeout=0.05):
            source: socket.socket = key.fileobj  # type: ignore[assignment]
            try:
                data = source.recv(BUFFER)
                if not data:
                    return False
                if source is not client and doomed:  # applied upstream; the answer is dropped
                    with self._lock:
                        self.answers_lost += 1
                    return False
                markers, seconds = self._slow
                if source is client and any(m in data for m in markers):
                    time.sleep(seconds)
                if source is client and self._doomed(data):
                    doomed.add(client)
                peers[source].sendall(data)
            except OSError:
                return False
        return True

    def _connect_upstream(self) -> socket.socket | None:
        with self._lock:
            if self._mode is Mode.REFUSE:
                return None
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            return None
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        return upstream
