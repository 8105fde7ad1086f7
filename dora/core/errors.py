"""Error taxonomy, grouped by what the caller should do. Vendor errors are mapped once, at the
boundary that meets them (``raise ... from exc``)."""

from __future__ import annotations


class DoraError(Exception):
    """Base of every error dora raises on purpose."""


class FatalError(DoraError):
    """Stop trading and exit non-zero: bad credentials (401/403), a retired endpoint (410),
    a broken deployment. Retrying will not help. ``status_code`` is the HTTP status when an
    answer said so (an optional call, such as a renewal, can then tell a retired call apart
    from bad credentials)."""

    def __init__(self, message: str = "", *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TransientError(DoraError):
    """Worth retrying later: 429, 5xx, connection reset, timeout. The cycle skips and the next
    one starts from a fresh reconcile. ``status_code`` is the HTTP status, None when no answer
    came back (the retry log lines carry it)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimitedError(TransientError):
    """The exchange answered 429."""


class OutcomeUnknownError(TransientError):
    """A write may or may not have been applied (timeout or 5xx after sending). Reconciliation
    by client_order_id decides; the write is never blindly re-sent."""


class OrderRejectedError(DoraError):
    """The exchange refused one order (400/409 with a code). Data for the caller, not a crash."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class OutOfTimeError(TransientError):
    """Not sent: the stop budget has no time left for this call (docs/aws-notes.md#stopping)."""


class NotFoundError(DoraError):
    """The order (or object) is not there: for a cancel it means already gone, i.e. done.
    ``after_lost_answer``: an earlier attempt of the same request got no answer, so that attempt
    may be what removed it."""

    def __init__(self, message: str, *, after_lost_answer: bool = False) -> None:
        super().__init__(message)
        self.after_lost_answer = after_lost_answer


class ConfigError(DoraError):
    """Operator input that cannot be used: a bad CLI value, env setting or stored config."""


class StoreError(DoraError):
    """DynamoDB failed in a way the loop should treat as transient."""


class StaleWriteError(StoreError):
    """A conditional (versioned) state write lost to another writer."""


class ConcurrentWriterError(FatalError):
    """Another process is saving dora's positions or fills: two bots on one account would fight
    over orders and state, so this one stops (cancelling its orders) rather than overwrite."""


class LeaseLostError(DoraError):
    """This process no longer holds its shard's lease (another took it over, or it was released):
    it must stop writing orders and state at once and become a standby. A state write refused by
    the lease's fencing condition raises it too."""
