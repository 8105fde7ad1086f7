"""One active instance per shard: holding, renewing, taking over and releasing its lease
(docs/architecture.md#lease; the item: :mod:`dora.store.lease`).

Clock skew cannot break it: no decision compares wall clocks. As in the DynamoDB Lock Client,
a contender takes a held lease only after watching its record version stay unchanged for the
whole lease duration the holder wrote into it, timed on the contender's own monotonic clock
from when it first saw that version (docs/aws-notes.md#lease). The holder counts its lease from
the moment it *sent* its last successful write, so its own deadline always falls before any
contender's: it places orders only while at least half the duration is left, and writes orders
or state not at all once it is over. A released lease (``owner`` empty) is free at once.

A process holds at most one lease. Until it holds one it is a standby: it watches every lease
item, takes any free one of its layout, and waits while a lease of another layout (a different
shard count) is still live, so two layouts never quote at once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum

from dora.core.errors import LeaseLostError, StoreError
from dora.core.models import TsMs
from dora.core.shards import MAX_SHARDS, ShardId, all_lease_keys, hash_shard, lease_key
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event
from dora.store.lease import LeaseRecord, LeaseStore

RENEW_FRACTION = 10  # renew when a tenth of the lease has passed since the last renewal
POLL_S = 1.0  # a standby looks at the leases this often (from the sleep between cycles too)


class Role(StrEnum):
    HOLDER = "holder"
    STANDBY = "standby"


@dataclass(frozen=True, slots=True)
class LeaseSnapshot:
    """What the summary, the status page and `dora status` show."""

    role: Role
    shard: ShardId | None
    epoch: int
    holder: str  # this process's owner id when held; else who holds what this process waits on
    remaining_ms: int  # of this process's lease (0 for a standby)
    expires_ms: TsMs  # wall-clock estimate, for people


class LeaseKeeper:
    def __init__(
        self, leases: LeaseStore, clock: Clock, logger: logging.Logger, *, owner: str,
        shards: int, lease_ms: int = 20_000,
    ) -> None:
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"shards must be in 1..{MAX_SHARDS}, got {shards}")
        self._leases = leases
        self._clock = clock
        self._log = logger
        self.owner = owner
        self.shards = shards
        self.lease_ms = lease_ms
        self.held: LeaseRecord | None = None
        self._sent_at = -math.inf  # monotonic: when the write behind ``held`` was sent
        self._promised_ms = lease_ms  # the duration that write promised
        self._seen: dict[str, tuple[str, float]] = {}  # key -> (rvn, first seen, monotonic)
        self._others: dict[str, LeaseRecord] = {}
        self._last_poll = -math.inf
        self._waiting_on = ""
        self._offset = hash_shard(owner, shards)

    def configure(self, shards: int, lease_ms: int) -> None:
        """The layout and lease duration, once the global config is read (before any lease)."""
        if self.held is not None:
            raise ValueError("the layout cannot change while a lease is held")
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"shards must be in 1..{MAX_SHARDS}, got {shards}")
        self.shards, self.lease_ms = shards, lease_ms
        self._offset = hash_shard(self.owner, shards)

    # -- what the loop asks ---------------------------------------------------------------------
    @property
    def role(self) -> Role:
        return Role.HOLDER if self.held is not None else Role.STANDBY

    @property
    def shard(self) -> ShardId | None:
        held = self.held
        return None if held is None else ShardId(int(held.key.split("#")[1]), self.shards)

    @property
    def epoch(self) -> int:
        return self.held.epoch if self.held is not None else 0

    def remaining_s(self) -> float:
        if self.held is None:
            return 0.0
        return max(self._sent_at + self._promised_ms / 1000 - self._clock.monotonic(), 0.0)

    def may_place(self) -> bool:
        """Held, with at least half its duration left."""
        return self.held is not None and self.remaining_s() >= self._promised_ms / 2000

    def may_write(self) -> bool:
        """Held and not over: cancels and state writes are still this process's to make."""
        return self.held is not None and self.remaining_s() > 0

    def fence(self) -> dict[str, object]:
        """The lease's ConditionCheck for a state write; LeaseLostError when not held. DynamoDB
        decides the rest: the write lands only while the item still names this owner and epoch
        (a lease run down but not taken over is still safe to save under)."""
        held = self.held
        if held is None:
            raise LeaseLostError("no lease held: state writes are a holder's alone")
        return self._leases.fence_check(held)

    def snapshot(self) -> LeaseSnapshot:
        remaining_ms = round(self.remaining_s() * 1000)
        if self.held is not None:
            return LeaseSnapshot(Role.HOLDER, self.shard, self.held.epoch, self.owner,
                                 remaining_ms, self._clock.now_ms() + remaining_ms)
        live = [r for r in self._others.values() if not r.released]
        soonest = min((r.expires_at_ms for r in live), default=0)
        holder = ", ".join(sorted(f"{r.key} {r.owner}" for r in live)) or "nobody"
        return LeaseSnapshot(Role.STANDBY, None, 0, holder, 0, soonest)

    # -- standby: watch and take -----------------------------------------------------------------
    def poll(self, *, force: bool = False) -> bool:
        """A standby looks at every lease and takes a free one of its layout; True when it just
        took one. At most every :data:`POLL_S` unless forced."""
        now = self._clock.monotonic()
        if self.held is not None or (not force and now - self._last_poll < POLL_S):
            return False
        self._last_poll = now
        records = self._leases.read(all_lease_keys())
        self._others = records
        self._observe(records, now)
        blocking = [r for r in records.values()
                    if r.shards != self.shards and not self._free(r, now)]
        if blocking:
            self._wait_on(f"layout change: {blocking[0].key} of {blocking[0].shards} shards is "
                          f"held by {blocking[0].owner}")
            return False
        for index in self._candidates():
            key = lease_key(index)
            seen = records.get(key)
            if seen is not None and not self._free(seen, now):
                continue
            if self._take(key, seen, self._retired_elsewhere(records, now)):
                return True
        held_by = sorted({r.owner for r in records.values() if not r.released})
        self._wait_on(f"all {self.shards} shard leases held ({', '.join(held_by)})")
        return False

    def _candidates(self) -> list[int]:
        """Every shard of the layout, starting at this process's own offset (so processes that
        start together try different shards first)."""
        return [(self._offset + i) % self.shards for i in range(self.shards)]

    def _observe(self, records: dict[str, LeaseRecord], now: float) -> None:
        for key, record in records.items():
            seen = self._seen.get(key)
            if seen is None or seen[0] != record.rvn:
                self._seen[key] = (record.rvn, now)

    def _free(self, record: LeaseRecord, now: float) -> bool:
        if record.released:
            return True
        rvn, since = self._seen.get(record.key, ("", now))
        return rvn == record.rvn and now - since >= record.lease_ms / 1000

    def _retired_elsewhere(self, records: dict[str, LeaseRecord], now: float) -> list[str]:
        """Groups of dead leases of other layouts: their orders may rest in this shard's
        markets, and nobody of this layout will ever take those leases over."""
        groups: list[str] = []
        for record in records.values():
            if record.shards != self.shards and self._free(record, now):
                groups += [*record.retired_groups, record.order_group_id]
        return [g for g in groups if g]

    def _take(self, key: str, seen: LeaseRecord | None, retire: list[str]) -> bool:
        sent = self._clock.monotonic()
        record = self._leases.acquire(key, seen, owner=self.owner, lease_ms=self.lease_ms,
                                      shards=self.shards, now_ms=self._clock.now_ms(),
                                      retire=retire)
        if record is None:
            return False
        self.held, self._sent_at, self._promised_ms = record, sent, record.lease_ms
        self._waiting_on = ""
        previous = "absent" if seen is None else (
            "released" if seen.released else f"expired ({seen.owner})")
        log_event(self._log, EventType.LEASE, "lease acquired", lease_event="acquired",
                  lease_key=key, epoch=record.epoch, previous=previous,
                  previous_group=seen.order_group_id if seen else "",
                  retired_groups=list(record.retired_groups), shard=str(self.shard))
        return True

    def _wait_on(self, why: str) -> None:
        if why != self._waiting_on:
            self._waiting_on = why
            log_event(self._log, EventType.LEASE, f"standby: {why}", lease_event="waiting")

    # -- holder: keep, change, give up -----------------------------------------------------------
    def renew_if_due(self) -> None:
        if self.held is not None and \
                self._clock.monotonic() - self._sent_at >= self.lease_ms / 1000 / RENEW_FRACTION:
            self.renew()

    def renew(self, *, order_group_id: str | None = None,
              retired_groups: list[str] | None = None) -> None:
        """Extend the lease (and record the epoch's group, or the groups still to delete).
        LeaseLostError when another process holds it now: this process is a standby from here.
        A DynamoDB failure is logged and leaves the lease to run down."""
        held = self.held
        if held is None:
            raise LeaseLostError("no lease held")
        sent = self._clock.monotonic()
        late = self.remaining_s() < self._promised_ms / 2000
        try:
            record = self._leases.renew(held, now_ms=self._clock.now_ms(), lease_ms=self.lease_ms,
                                        order_group_id=order_group_id,
                                        retired_groups=retired_groups)
        except LeaseLostError as exc:
            self.lose(str(exc))
            raise
        except StoreError as exc:
            log_event(self._log, EventType.ERROR, f"lease renewal failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__,
                      lease_key=held.key, remaining_ms=round(self.remaining_s() * 1000))
            return
        self.held, self._sent_at, self._promised_ms = record, sent, record.lease_ms
        if late:
            log_event(self._log, EventType.LEASE, "lease renewed late", level=logging.WARNING,
                      lease_event="renewed_late", lease_key=record.key, epoch=record.epoch)

    def lose(self, why: str) -> None:
        """Stop being the holder at once (another process took the lease, or a fenced write
        was refused)."""
        held = self.held
        if held is None:
            return
        self.held = None
        self._last_poll = -math.inf
        log_event(self._log, EventType.LEASE, f"lease lost: {why}", level=logging.CRITICAL,
                  lease_event="lost", lease_key=held.key, epoch=held.epoch)

    def release(self) -> None:
        """Give the lease up after a clean stop: a standby takes it over at once."""
        held = self.held
        if held is None:
            return
        self._leases.release(held, now_ms=self._clock.now_ms())
        self.held = None
        log_event(self._log, EventType.LEASE, "lease released", lease_event="released",
                  lease_key=held.key, epoch=held.epoch)

    def peers(self) -> list[ShardId]:
        """The other shards of this layout."""
        shard = self.shard
        return [ShardId(i, self.shards) for i in range(self.shards)
                if shard is None or i != shard.index]

    def lease_items(self) -> dict[str, LeaseRecord]:
        """The lease items as this process last read them (a standby's view)."""
        return dict(self._others)
