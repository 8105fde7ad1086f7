"""Order entry (V2): create, batch create, cancel, batch cancel, decrease, amend, renew (an
expiry-only amend), cancel-all.

Per-order outcomes are data. The requests of one list (the batches of ``place_orders`` and
``cancel_orders``, the single decreases of ``decrease_orders``) go out together
(:mod:`dora.exchange.parallel`; batches in waves the tokens held pay for, docs/architecture.md
#concurrency-inside-a-phase); the ``*_batches`` forms say, per request, when it was sent and
when its answer arrived. Creates and amends are sent exactly once: if the answer is lost
(timeout, broken connection, 5xx) the result is UNKNOWN and the next reconcile decides by
``client_order_id``. Cancels and decreases are safe to repeat and are retried by the transport.
Only FatalError (bad credentials, retired endpoint, schema drift on reads) escapes; a renewal is
optional, so there only bad credentials do (a retired or refused amend is UNSUPPORTED).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from dora.core.errors import (
    FatalError,
    NotFoundError,
    OrderRejectedError,
    OutcomeUnknownError,
    RateLimitedError,
    TransientError,
)
from dora.core.fencing import not_sent
from dora.core.models import (
    CancelResult,
    CancelStatus,
    DecreaseResult,
    OrderRequest,
    PlaceResult,
    PlaceStatus,
    RenewResult,
    RenewStatus,
    RestingOrder,
)
from dora.core.tiers import Bucket
from dora.core.units import Count, Price
from dora.exchange import endpoints as ep
from dora.exchange import wire
from dora.exchange.http import ApiRequest, Transport
from dora.exchange.parallel import Together, chunks
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import Clock

T = TypeVar("T")
R = TypeVar("R")
# Asked before each wave of batches after the first (on the calling thread): "" to go on, else
# why the batches not sent yet are not sent at all (their results say so, with that code).
WaveCheck = Callable[[], str]
# Told each wave's results once it has answered, before the next wave's check (on the calling
# thread): what a wave's answers say (an order group triggered) can stop the next.
WaveDone = Callable[[list["Sent[PlaceResult]"]], None]


@dataclass(frozen=True, slots=True)
class Sent(Generic[R]):
    """The results one request carried, when it was sent and when its answer arrived (dora's
    clock, ms)."""

    results: list[R]
    sent_ms: int
    returned_ms: int


class OrderEntry:
    def __init__(
        self, transport: Transport, limiter: RateLimiter, clock: Clock, together: Together, *,
        max_batch: int = 20, logger: logging.Logger | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._transport = transport
        self._limiter = limiter
        self._clock = clock
        self._together = together
        self._max_batch = max_batch
        self._log = logger or logging.getLogger("dora.exchange")

    def batch_size(self, bucket: Bucket, per_item_cost: int) -> int:
        """Most items per batch request: the configured maximum, and what one bucket can hold
        (a batch that does not fit in the bucket is rejected whole)."""
        return max(1, min(self._max_batch, self._limiter.capacity(bucket) // per_item_cost))

    # ---- creates ------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> PlaceResult:
        call = ApiRequest(ep.CREATE_ORDER, body=wire.create_order_body(request), retry=False)
        return self._send_creates([request], call, _parse_single_create)[0]

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Any number of orders, in as many batch requests as needed; results in input order."""
        return _flat(self.place_batches(requests))

    def place_batches(
        self, requests: Sequence[OrderRequest], *, between_waves: WaveCheck | None = None,
        after_wave: WaveDone | None = None,
    ) -> list[Sent[PlaceResult]]:
        """As :meth:`place_orders`, the batch requests sent together; per request, in order.

        Every batch is sized once, from the budget as it is now (the AIMD-adapted capacity and
        this shard's share of it), and they go out together (in waves when the tokens held do
        not cover them all: :meth:`_in_waves`). A batch refused whole with 429 cuts the budget
        (the limiter does) and its creates come back REJECTED ``rate_limited``; a batch of this
        list not yet sent by then is not sent at all (``rate_limited``, so not unknown): none is
        sent again here, and the next cycle plans them again in batches sized from the cut
        budget. ``between_waves`` may stop the waves not sent yet: their creates come back
        REJECTED with its reason as the code; ``after_wave`` is told each wave's answers first."""
        _require_unique_client_ids(requests)
        size = self._item_batch_size(ep.BATCH_CREATE)
        refused = threading.Event()

        def create(chunk: Sequence[OrderRequest]) -> list[PlaceResult]:
            if refused.is_set():
                return _all(chunk, PlaceStatus.REJECTED, "rate_limited",
                            "not sent: a batch sent with it was refused with 429")
            results = self._create_batch(chunk)
            if all(r.error_code == "rate_limited" for r in results):
                refused.set()
            return results

        def unsent(chunk: Sequence[OrderRequest], why: str) -> list[PlaceResult]:
            return _all(chunk, PlaceStatus.REJECTED, why, not_sent(why))

        return self._in_waves(ep.BATCH_CREATE, chunks(requests, size), create,
                              between_waves, unsent, after_wave)

    def _create_batch(self, chunk: Sequence[OrderRequest]) -> list[PlaceResult]:
        call = ApiRequest(ep.BATCH_CREATE, body=wire.batch_create_body(chunk),
                          items=len(chunk), retry=False)
        return self._send_creates(chunk, call, wire.parse_batch_create)

    def _each(
        self, chunks: Sequence[T], send: Callable[[T], list[R]]
    ) -> list[Sent[R]]:
        """``send`` for every chunk, all at once; each timed on its own thread."""
        def timed(chunk: T) -> Callable[[], Sent[R]]:
            def call() -> Sent[R]:
                sent_ms = self._clock.now_ms()
                results = send(chunk)
                return Sent(results, sent_ms, self._clock.now_ms())
            return call

        return self._together.all([timed(chunk) for chunk in chunks])

    def _in_waves(
        self, endpoint: ep.Endpoint, chunks: Sequence[Sequence[Any]],
        send: Callable[[Sequence[Any]], list[R]], between: WaveCheck | None,
        unsent: Callable[[Sequence[Any], str], list[R]],
        after: Callable[[list[Sent[R]]], None] | None = None,
    ) -> list[Sent[R]]:
        """The batches for ``endpoint`` together, as many at a time as the tokens held now pay
        for (at least one); the next wave once the last has answered. A batch that would only
        wait for tokens gains nothing by going out with the others, and sent after their answers
        it can never overtake at the exchange a batch whose tokens were taken before its own.
        Before each later wave ``between`` may end the sending: ``unsent`` gives the results of
        the batches left, each as a request that was never sent."""
        sent: list[Sent[R]] = []
        left = list(chunks)
        while left:
            why = between() if sent and between is not None else ""
            if why:
                now = self._clock.now_ms()
                return sent + [Sent(unsent(chunk, why), now, now) for chunk in left]
            tokens = self._limiter.available(endpoint.bucket)
            wave = 0
            while wave < len(left):
                tokens -= self._limiter.cost(endpoint.method, endpoint.template, len(left[wave]))
                if tokens < 0 and wave:
                    break
                wave += 1
            answered = self._each(left[:wave], send)
            if after is not None:
                after(answered)
            sent += answered
            left = left[wave:]
        return sent

    def _item_batch_size(self, endpoint: ep.Endpoint) -> int:
        per_item = self._limiter.cost(endpoint.method, endpoint.template, 1)
        return self.batch_size(endpoint.bucket, per_item)

    def amend_order(self, order: RestingOrder, price: Price, total_count: Count) -> PlaceResult:
        """Move a resting order to ``price`` with ``total_count`` = filled + wanted remaining."""
        request = OrderRequest(order.ticker, order.side, price, total_count,
                               client_order_id=order.client_order_id)
        call = ApiRequest(ep.AMEND_ORDER, path_args={"order_id": order.order_id},
                          body=wire.amend_body(order, price, total_count), retry=False)
        return self._send_creates([request], call, _parse_amend)[0]

    def renew_order(self, order: RestingOrder, expiration_s: int) -> RenewResult:
        """Move a resting order's expiry to ``expiration_s`` (Unix seconds), nothing else: one
        attempt, never repeated here (a lost answer is UNKNOWN; the read-lag overlay and the
        next listing decide)."""
        call = ApiRequest(ep.AMEND_ORDER, path_args={"order_id": order.order_id},
                          body=wire.renew_body(order, expiration_s), retry=False)
        expires_ms = expiration_s * 1000
        try:
            body = self._transport.call(call)
            return wire.parse_renew(body, order.order_id, expires_ms)
        except (TransientError, NotFoundError, OrderRejectedError, FatalError) as exc:
            status, code = _renew_failure(exc)
            return RenewResult(order.order_id, status, expires_ms, error_code=code,
                               error_message=str(exc))

    def _send_creates(
        self, requests: Sequence[OrderRequest], call: ApiRequest,
        parse: Callable[[Any, Sequence[OrderRequest]], list[PlaceResult]],
    ) -> list[PlaceResult]:
        try:
            body = self._transport.call(call)
        except OutcomeUnknownError as exc:
            self._log.warning("order create outcome unknown: %s", exc,
                              extra={"event_type": "LOG", "error_code": "outcome_unknown"})
            return _all(requests, PlaceStatus.UNKNOWN, "outcome_unknown", str(exc))
        except RateLimitedError as exc:
            return _all(requests, PlaceStatus.REJECTED, "rate_limited", str(exc))
        except TransientError as exc:
            return _all(requests, PlaceStatus.REJECTED, "not_sent", str(exc))
        except OrderRejectedError as exc:
            return _all(requests, PlaceStatus.REJECTED, exc.code, exc.message)
        except NotFoundError as exc:
            return _all(requests, PlaceStatus.REJECTED, "not_found", str(exc))
        except wire.WireFormatError as exc:  # a 2xx whose body is not JSON
            return self._unreadable(requests, exc)
        try:
            return parse(body, requests)
        except wire.WireFormatError as exc:
            return self._unreadable(requests, exc)

    def _unreadable(
        self, requests: Sequence[OrderRequest], exc: wire.WireFormatError
    ) -> list[PlaceResult]:
        """Accepted (2xx) but unreadable: the orders may well exist, so reconcile must decide."""
        self._log.error("unreadable answer to an order create: %s", exc,
                        extra={"event_type": "ERROR", "error_code": "wire_format"})
        return _all(requests, PlaceStatus.UNKNOWN, "unreadable_response", str(exc))

    # ---- cancels and decreases (safe to repeat) -----------------------------------------------

    def cancel_order(self, order_id: str) -> CancelResult:
        try:
            call = ApiRequest(ep.CANCEL_ORDER, path_args={"order_id": order_id})
            return wire.parse_cancel(self._transport.call(call))
        except _CANCEL_FAILURES as exc:
            status, code, message = _cancel_failure(exc)
            after_lost = isinstance(exc, NotFoundError) and exc.after_lost_answer
            return CancelResult(order_id, status, error_code=code, error_message=message,
                                after_lost_answer=after_lost)

    def cancel_orders(self, order_ids: Sequence[str]) -> list[CancelResult]:
        """Any number of cancels, batched; an order that is already gone is NOT_FOUND (done)."""
        return _flat(self.cancel_batches(order_ids))

    def cancel_batches(
        self, order_ids: Sequence[str], *, between_waves: WaveCheck | None = None,
    ) -> list[Sent[CancelResult]]:
        """As :meth:`cancel_orders`, the batch requests sent together; per request, in order.
        Every batch is sized once, from the budget as it is now; one refused with 429 (the
        budget is cut) comes back FAILED ``rate_limited`` and the next cycle cancels again.
        ``between_waves`` may stop the waves not sent yet: those cancels come back FAILED with
        its reason as the code."""
        size = self._item_batch_size(ep.BATCH_CANCEL)
        return self._in_waves(ep.BATCH_CANCEL, chunks(order_ids, size), self._cancel_batch,
                              between_waves, _cancels_unsent)

    def _cancel_batch(self, order_ids: Sequence[str]) -> list[CancelResult]:
        call = ApiRequest(ep.BATCH_CANCEL, body=wire.batch_cancel_body(order_ids),
                          items=len(order_ids))
        try:
            answer = self._transport.call_reporting(call)
            results = wire.parse_batch_cancel(answer.body, order_ids)
        except OrderRejectedError as exc:
            return [CancelResult(i, CancelStatus.FAILED, error_code=exc.code,
                                 error_message=exc.message) for i in order_ids]
        except (TransientError, NotFoundError, wire.WireFormatError) as exc:
            self._log.warning("batch cancel failed: %s", exc,
                              extra={"event_type": "BATCH_CANCEL_FAILED", "error_code": _code(exc)})
            return [CancelResult(i, CancelStatus.FAILED, error_code=_code(exc),
                                 error_message=str(exc)) for i in order_ids]
        if not answer.after_lost_answer:
            return results
        return [replace(r, after_lost_answer=r.status is CancelStatus.NOT_FOUND) for r in results]

    def decrease_order(self, order_id: str, reduce_to: Count) -> DecreaseResult:
        if reduce_to < 0:
            raise ValueError(f"reduce_to cannot be negative, got {reduce_to}")
        call = ApiRequest(ep.DECREASE_ORDER, path_args={"order_id": order_id},
                          body=wire.decrease_body(reduce_to))
        try:
            return wire.parse_decrease(self._transport.call(call))
        except _CANCEL_FAILURES as exc:
            status, code, message = _cancel_failure(exc)
            return DecreaseResult(order_id, status, error_code=code, error_message=message)

    def decrease_orders(
        self, decreases: Sequence[tuple[str, Count]]
    ) -> list[Sent[DecreaseResult]]:
        """Several (order id, reduce_to) decreases, sent together; per request, in order."""
        return self._each(list(decreases), lambda d: [self.decrease_order(*d)])

    def cancel_all(self) -> None:
        """Cancel every resting order of the account (raises if it could not be done)."""
        self._transport.call(ApiRequest(ep.CANCEL_ALL))


def _parse_single_create(body: Any, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
    return [wire.parse_create(body, requests[0])]


def _parse_amend(body: Any, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
    return [wire.parse_amend(body, requests[0])]


def _rejected_cancel_status(exc: OrderRejectedError) -> CancelStatus:
    return CancelStatus.NOT_FOUND if exc.code in wire.NOT_FOUND_CODES else CancelStatus.FAILED


def _code(exc: Exception) -> str:
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    if isinstance(exc, OutcomeUnknownError):
        return "outcome_unknown"
    if isinstance(exc, wire.WireFormatError):
        return "unreadable_response"
    if isinstance(exc, NotFoundError):
        return "not_found"
    return "transient"


def _cancels_unsent(order_ids: Sequence[str], why: str) -> list[CancelResult]:
    return [CancelResult(order_id, CancelStatus.FAILED, error_code=why,
                         error_message=not_sent(why))
            for order_id in order_ids]


def _all(
    requests: Sequence[OrderRequest], status: PlaceStatus, code: str, message: str
) -> list[PlaceResult]:
    return [PlaceResult(r, status, error_code=code, error_message=message) for r in requests]


def _require_unique_client_ids(requests: Sequence[OrderRequest]) -> None:
    """Batch results are matched by client_order_id, so every order needs its own."""
    seen: set[str] = set()
    for request in requests:
        if not request.client_order_id:
            raise ValueError(f"order {request} has no client_order_id")
        if request.client_order_id in seen:
            raise ValueError(f"client_order_id {request.client_order_id!r} appears twice")
        seen.add(request.client_order_id)


def _flat(sent: Sequence[Sent[R]]) -> list[R]:
    return [result for request in sent for result in request.results]



_CREDENTIAL_STATUSES = frozenset({401, 403})
_UNSUPPORTED_5XX = frozenset({501})  # "not implemented": no later attempt will do better


def _renew_failure(exc: Exception) -> tuple[RenewStatus, str]:
    """(status, error code) of a renewal that did not come back renewed. Bad credentials are
    fatal for every call, so they are raised again here."""
    if isinstance(exc, wire.WireFormatError):  # a 2xx whose body is unreadable: it applied
        return RenewStatus.UNKNOWN, "unreadable_response"
    if isinstance(exc, OutcomeUnknownError):
        if exc.status_code in _UNSUPPORTED_5XX:
            return RenewStatus.UNSUPPORTED, f"http_{exc.status_code}"
        return RenewStatus.UNKNOWN, "outcome_unknown"
    if isinstance(exc, TransientError):
        return RenewStatus.NOT_SENT, _code(exc)
    if isinstance(exc, NotFoundError):
        return RenewStatus.NOT_FOUND, "not_found"
    if isinstance(exc, OrderRejectedError):
        status = RenewStatus.CONFLICT if exc.status == 409 else RenewStatus.REJECTED
        return status, exc.code
    if isinstance(exc, FatalError) and exc.status_code not in _CREDENTIAL_STATUSES:
        return RenewStatus.UNSUPPORTED, f"http_{exc.status_code or 0}"
    raise exc


_CANCEL_FAILURES = (NotFoundError, OrderRejectedError, TransientError, wire.WireFormatError)


def _cancel_failure(exc: Exception) -> tuple[CancelStatus, str, str]:
    """How a failed cancel or decrease is reported: gone (done), rejected, or failed."""
    if isinstance(exc, NotFoundError):
        return CancelStatus.NOT_FOUND, "not_found", str(exc)
    if isinstance(exc, OrderRejectedError):
        return _rejected_cancel_status(exc), exc.code, exc.message
    return CancelStatus.FAILED, _code(exc), str(exc)
