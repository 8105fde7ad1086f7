"""The HTTP transport: one requests.Session, signing per attempt, rate limiting, stats, retries
and the single place where HTTP outcomes become dora's errors.

Mapping: 2xx -> parsed JSON (None when empty); 429 -> RateLimitedError (after the limiter's
backoff); 404 -> NotFoundError; 401/403/410 and other unexpected 4xx -> FatalError; 400/409/422
-> OrderRejectedError(code); 5xx, read timeouts and broken connections -> OutcomeUnknownError
(a write may have been applied); a connection that never opened -> TransientError (not sent).
Only requests marked ``retry`` (reads, cancels, idempotent writes) are repeated, on any
TransientError, with capped exponential backoff and jitter slept on the injected clock.

Thread-safe: the requests of one phase go out from several threads at once
(:mod:`dora.exchange.parallel`) over the one session's connection pool (urllib3's pools are
thread-safe; dora's requests carry no cookies), each through the shared rate limiter and stats,
both locked.

Under a stop budget (:meth:`Transport.bound_by`) every attempt's timeouts are cut to the time left,
no retry starts that could not finish in time, and nothing is sent once the time is gone
(OutOfTimeError).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from dora.core.errors import (
    FatalError,
    NotFoundError,
    OrderRejectedError,
    OutcomeUnknownError,
    OutOfTimeError,
    RateLimitedError,
    TransientError,
)
from dora.exchange.auth import Signer, auth_headers
from dora.exchange.endpoints import Endpoint
from dora.exchange.ratelimit import RateLimiter
from dora.exchange.stats import ApiStats
from dora.exchange.wire import WireFormatError, parse_error
from dora.runtime.clock import Clock
from dora.runtime.deadline import TimeLeft
from dora.runtime.logs import EventType, log_event

DEFAULT_TIMEOUT = (3.05, 10.0)
# No new attempt starts this long after the first: bounds a call (and a shutdown) in an outage.
RETRY_WINDOW_S = 15.0
MIN_ATTEMPT_S = 0.2  # under a stop budget, an attempt with less time than this is not sent
DEFAULT_POOL_SIZE = 10  # connections kept per host (urllib3's pool_maxsize)
_REJECT_STATUSES = frozenset({400, 409, 422})
_FATAL_STATUSES = frozenset({401, 403, 410})


@dataclass(frozen=True, slots=True)
class ApiRequest:
    endpoint: Endpoint
    path_args: Mapping[str, str] = field(default_factory=dict)
    params: Sequence[tuple[str, str]] = ()
    body: Mapping[str, Any] | None = None
    items: int = 1  # batch endpoints are billed per item
    retry: bool = True  # False for writes that must never be repeated blindly (creates)


@dataclass(frozen=True, slots=True)
class Answer:
    body: Any
    after_lost_answer: bool  # an earlier attempt of this request got no answer (may have applied)


class Transport:
    def __init__(
        self, base_url: str, credentials: Signer | None, limiter: RateLimiter, clock: Clock,
        stats: ApiStats, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None, max_attempts: int = 5,
        retry_wait_max_s: float = 4.0, logger: logging.Logger | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"base URL must be http(s)://host/...: {base_url!r}")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path
        self._credentials = credentials
        self._limiter = limiter
        self._clock = clock
        self._stats = stats
        self._timeout = timeout
        self._session = session or _new_session(self._origin, pool_size)
        self._max_attempts = max_attempts
        self._backoff = wait_exponential_jitter(multiplier=0.25, max=retry_wait_max_s, jitter=0.25)
        self._log = logger or logging.getLogger("dora.exchange")
        self._budget: TimeLeft | None = None

    def close(self) -> None:
        self._session.close()

    def bound_by(self, budget: TimeLeft | None) -> None:
        """Fit every later call into ``budget`` (see the module docstring)."""
        self._budget = budget

    def call(self, request: ApiRequest) -> Any:
        """Send ``request`` (repeating it only if it is marked safe); the parsed JSON answer."""
        return self.call_reporting(request).body

    def call_reporting(self, request: ApiRequest) -> Answer:
        """As :meth:`call`, also saying whether an earlier attempt's answer was lost. A 404 after
        such an attempt carries ``after_lost_answer`` (the lost attempt may have done it)."""
        if not request.retry:
            return Answer(self._attempt(request), after_lost_answer=False)
        lost: list[OutcomeUnknownError] = []

        def attempt(req: ApiRequest) -> Any:
            try:
                return self._attempt(req)
            except OutcomeUnknownError as exc:
                lost.append(exc)
                raise

        retrying = Retrying(
            sleep=self._clock.sleep,
            stop=(stop_after_attempt(self._max_attempts) | stop_after_delay(RETRY_WINDOW_S)
                  | _StopWhenOutOfTime(self._time_left)),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return Answer(retrying(attempt, request), after_lost_answer=bool(lost))
        except NotFoundError as exc:
            if lost:
                raise NotFoundError(str(exc), after_lost_answer=True) from exc
            raise

    def _time_left(self) -> float | None:
        return None if self._budget is None else self._budget.remaining()

    def _timeouts(self, endpoint: Endpoint) -> tuple[float, float]:
        left = self._time_left()
        if left is None:
            return self._timeout
        if left < MIN_ATTEMPT_S:
            raise OutOfTimeError(f"{endpoint.key}: not sent, the stop budget is spent")
        return min(self._timeout[0], left), min(self._timeout[1], left)

    def _wait(self, state: RetryCallState) -> float:
        # After a 429 the limiter has already blocked the bucket for its backoff; the next
        # acquire() sleeps it, so tenacity adds nothing on top.
        if state.outcome is not None and isinstance(state.outcome.exception(), RateLimitedError):
            return 0.0
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        request = state.args[0] if state.args else None
        endpoint = request.endpoint.key if isinstance(request, ApiRequest) else ""
        log_event(
            self._log, EventType.RETRY,
            f"retrying {endpoint} after {type(error).__name__} (attempt {state.attempt_number})",
            level=logging.WARNING, endpoint=endpoint,
            status_code=getattr(error, "status_code", None), error_type=type(error).__name__,
            error_msg=str(error), attempt=state.attempt_number,
        )

    def _attempt(self, request: ApiRequest) -> Any:
        endpoint = request.endpoint
        cost = self._limiter.cost(endpoint.method, endpoint.template, request.items)
        self._limiter.acquire(endpoint.bucket, cost, max_wait_s=self._time_left())
        path = self._base_path + endpoint.template.format(
            **{name: quote(value, safe="") for name, value in request.path_args.items()}
        )
        headers = {"Accept": "application/json"}
        if self._credentials is not None:
            headers.update(
                auth_headers(self._credentials, self._clock.now_ms(), endpoint.method, path)
            )
        started = self._clock.monotonic()
        try:
            response = self._session.request(
                endpoint.method, self._origin + path, params=list(request.params) or None,
                json=request.body, headers=headers, timeout=self._timeouts(endpoint),
            )
        except requests.RequestException as exc:
            self._record(endpoint, cost, started, error=True)
            raise _network_error(endpoint, exc) from exc
        return self._interpret(endpoint, cost, started, response)

    def _interpret(
        self, endpoint: Endpoint, cost: int, started: float, response: requests.Response
    ) -> Any:
        status = response.status_code
        if status == 429:
            self._record(endpoint, 0, started, rate_limited=True)
            backoff = self._limiter.on_rate_limited(endpoint.key, endpoint.bucket, cost)
            raise RateLimitedError(
                f"{endpoint.key}: 429 too many requests; backoff {backoff:.3f}s", status_code=429)
        self._limiter.on_success(endpoint.bucket)
        self._record(endpoint, cost, started, error=status >= 400 and status != 404,
                     not_found=status == 404)
        if status < 300:
            return _json_or_none(endpoint, response)
        code, message = parse_error(_json_or_text(response), status)
        self._log.debug("%s answered %d %s", endpoint.key, status, code)
        raise _http_error(endpoint, status, code, message)

    def _record(
        self, endpoint: Endpoint, tokens: int, started: float, *, error: bool = False,
        rate_limited: bool = False, not_found: bool = False,
    ) -> None:
        latency_ms = round((self._clock.monotonic() - started) * 1000)
        self._stats.record(endpoint.key, tokens=tokens, latency_ms=latency_ms, error=error,
                           rate_limited=rate_limited, not_found=not_found)


class _StopWhenOutOfTime(stop_base):
    """No retry that could not finish within a stop budget's time left."""

    def __init__(self, time_left: Callable[[], float | None]) -> None:
        self._time_left = time_left

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = self._time_left()
        return left is not None and left < retry_state.upcoming_sleep + MIN_ATTEMPT_S


def _new_session(origin: str, pool_size: int) -> requests.Session:
    session = requests.Session()
    # urllib3 must never repeat a request on its own: a repeated POST could place an order twice.
    # One pool per host, with a connection for each request a phase may have in flight at once.
    adapter = HTTPAdapter(max_retries=0, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # The environment is read once, here: the proxy for this one origin (NO_PROXY honoured) and
    # a CA bundle. requests would read it again for every request (with a ~/.netrc look-up),
    # and a netrc entry must not add a Basic Authorization header to Kalshi's signed requests.
    session.proxies = get_environ_proxies(origin)
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
        "CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


def _json_or_none(endpoint: Endpoint, response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise WireFormatError(f"{endpoint.key}: response is not JSON") from exc


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:200]


def _http_error(endpoint: Endpoint, status: int, code: str, message: str) -> Exception:
    text = f"{endpoint.key}: HTTP {status} {code}: {message}".rstrip(": ")
    if status == 404:
        return NotFoundError(text)
    if status in _REJECT_STATUSES:
        return OrderRejectedError(code, message, status)
    if status >= 500:
        return OutcomeUnknownError(text, status_code=status)
    if status in _FATAL_STATUSES:
        return FatalError(text, status_code=status)
    return FatalError(f"unexpected answer: {text}", status_code=status)


def _network_error(endpoint: Endpoint, exc: requests.RequestException) -> TransientError:
    if _never_sent(exc):
        return TransientError(f"{endpoint.key}: not sent, connection failed: {exc}")
    return OutcomeUnknownError(f"{endpoint.key}: no answer ({type(exc).__name__}): {exc}")


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never established, so the server cannot have seen it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            return isinstance(reason.reason, NewConnectionError)
    return False
