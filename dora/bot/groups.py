"""The epoch's order group: the exchange-side fence and kill switch (docs/architecture.md#lease,
docs/kalshi-notes.md#order-groups).

One Kalshi order group per lease epoch, created when the lease is taken and recorded in the lease
item; every order dora sends carries it. Taking a lease triggers the groups of earlier epochs
first, so the exchange itself cancels whatever a stale holder left and refuses anything it still
sends (``order_group_triggered``). Those groups are deleted once their orders are gone.

The group is judged triggered when a create into it is refused ``order_group_triggered`` or
dora's own fills of its orders reach the limit within 15 s (:mod:`dora.core.order_groups`);
nothing is placed then, and it is reset by policy (``auto`` after the cool-off, or ``manual``:
`dora groups reset`). dora triggers it itself to take every quote down with one call: on a halt,
on a stop, and when the lease may be running out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from dora.bot.lease import LeaseKeeper
from dora.core.errors import DoraError, LeaseLostError, NotFoundError
from dora.core.models import Fill, OrderGroup, OrderRequest, PlaceResult, PlaceStatus, TsMs
from dora.core.order_groups import (
    GROUP_WINDOW_MS,
    TRIGGERED_CODE,
    ResetPolicy,
    TriggeredBy,
    limit_reached,
    reset_due,
)
from dora.core.units import Count, format_count
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event

# An order sent into the group is known as the group's this long after it was last placed or
# listed: its fills count toward the 15 s limit, and a fill is read well within this (the read
# lag, a cycle, a retry). Time, not a count, bounds the map: a count small enough to keep memory
# flat would forget orders a large requote placed seconds ago.
TRACKED_FOR_MS = 60_000


class GroupClient(Protocol):
    def create_order_group(self, contracts_limit: Count) -> str: ...
    def fetch_order_group(self, group_id: str) -> OrderGroup: ...
    def reset_order_group(self, group_id: str) -> None: ...
    def trigger_order_group(self, group_id: str) -> None: ...
    def update_order_group_limit(self, group_id: str, contracts_limit: Count) -> None: ...
    def delete_order_group(self, group_id: str) -> None: ...


class GroupKeeper:
    def __init__(self, client: GroupClient, lease: LeaseKeeper, clock: Clock,
                 logger: logging.Logger) -> None:
        self._client = client
        self._lease = lease
        self._clock = clock
        self._log = logger
        self.group_id = ""
        self.limit: Count = 0
        self.triggered_by: TriggeredBy | None = None
        self.triggered_ms: TsMs = 0
        # the exchange's own trigger a trigger of dora's came on top of: it governs again (its
        # reset policy, its cool-off) once dora's reason is gone
        self._beneath: tuple[TriggeredBy, TsMs] | None = None
        # dora's orders sent into this group -> when last placed or listed (oldest first)
        self.order_ids: OrderedDict[str, TsMs] = OrderedDict()
        self._fills: deque[Fill] = deque()  # fills of those orders, the last 15 s of them
        self._unrecorded = ""  # created, but not yet in the lease item: not used until it is

    def may_place(self) -> bool:
        return bool(self.group_id) and self.triggered_by is None

    def stamp(self, request: OrderRequest) -> OrderRequest:
        return replace(request, order_group_id=self.group_id)

    # -- a new epoch ------------------------------------------------------------------------------
    def start_epoch(self, limit: Count) -> None:
        """Right after the lease is taken: trigger every earlier epoch's group (the exchange
        cancels their orders and refuses new ones), then create and record this epoch's. It is
        used only once the lease item names it: a successor must be able to trigger it."""
        self.group_id, self.triggered_by, self.triggered_ms = "", None, 0
        self._beneath = None
        self.order_ids.clear()
        self._fills.clear()
        held = self._lease.held
        for group_id in held.retired_groups if held else ():
            self._trigger_retired(group_id)
        self.limit = limit
        if not self._unrecorded:
            self._unrecorded = self._client.create_order_group(limit)
            log_event(self._log, EventType.ORDER_GROUP, "order group created",
                      group_event="created", order_group_id=self._unrecorded,
                      contracts_limit=format_count(limit), epoch=self._lease.epoch)
        self._record()

    def _record(self) -> None:
        self._lease.renew(order_group_id=self._unrecorded)
        held = self._lease.held
        if held is not None and held.order_group_id == self._unrecorded:
            self.group_id, self._unrecorded = self._unrecorded, ""

    def ensure_group(self, limit: Count) -> None:
        """Create (or record) this epoch's group if taking the lease could not."""
        if self.group_id or self._lease.held is None:
            return
        if self._unrecorded:
            self._record()
        else:
            self.start_epoch(limit)

    def _trigger_retired(self, group_id: str) -> None:
        try:
            self._client.trigger_order_group(group_id)
        except NotFoundError:
            return  # deleted already: its orders went with it
        log_event(self._log, EventType.ORDER_GROUP, "earlier epoch's order group triggered",
                  group_event="fenced", order_group_id=group_id, epoch=self._lease.epoch)

    # -- what the cycle tells it ------------------------------------------------------------------
    def on_placed(self, results: Sequence[PlaceResult]) -> None:
        refused = [r for r in results if r.error_code == TRIGGERED_CODE]
        self._seen(r.order_id for r in results if r.status is PlaceStatus.PLACED and r.order_id)
        if refused and self.triggered_by is None:
            self._mark(TriggeredBy.REFUSED, self._matched())

    def on_listed(self, order_group_ids: Iterable[tuple[str, str]]) -> None:
        """(order id, group id) of listed orders: creates whose answer was lost show up here.
        Once a cycle (after its fills were counted): orders neither placed nor listed for
        :data:`TRACKED_FOR_MS` are forgotten."""
        self._seen(o for o, g in order_group_ids if g and g == self.group_id)
        cutoff = self._clock.now_ms() - TRACKED_FOR_MS
        while self.order_ids and next(iter(self.order_ids.values())) < cutoff:
            self.order_ids.popitem(last=False)

    def _seen(self, order_ids: Iterable[str]) -> None:
        now = self._clock.now_ms()
        for order_id in order_ids:
            self.order_ids[order_id] = now
            self.order_ids.move_to_end(order_id)

    def on_fills(self, fills: Iterable[Fill]) -> None:
        self._fills.extend(f for f in fills if f.order_id in self.order_ids)
        newest = max((f.ts_ms for f in self._fills), default=0)
        while self._fills and self._fills[0].ts_ms <= newest - GROUP_WINDOW_MS:
            self._fills.popleft()
        matched = self._matched()
        if matched and self.triggered_by is None and self.group_id:
            self._mark(TriggeredBy.FILLS, matched)

    def _matched(self) -> Count:
        return limit_reached(sorted(self._fills, key=lambda f: f.ts_ms), self.order_ids,
                             self.limit)

    def _mark(self, why: TriggeredBy, matched: Count) -> None:
        self.triggered_by, self.triggered_ms = why, self._clock.now_ms()
        log_event(self._log, EventType.ORDER_GROUP_TRIGGERED,
                  "order group triggered: the exchange cancelled every quote of the group",
                  level=logging.CRITICAL, order_group_id=self.group_id, reason=why.value,
                  matched_contracts=format_count(matched),
                  contracts_limit=format_count(self.limit), epoch=self._lease.epoch)

    # -- dora's own kill switch --------------------------------------------------------------------
    def trigger(self, why: TriggeredBy) -> bool:
        """Take every quote of the group down with one call; True when it was sent."""
        if not self.group_id:
            return False
        self._client.trigger_order_group(self.group_id)
        if self.triggered_by is None or not self.triggered_by.by_dora:
            if self.triggered_by is not None:
                self._beneath = (self.triggered_by, self.triggered_ms)
            self.triggered_by, self.triggered_ms = why, self._clock.now_ms()
        log_event(self._log, EventType.ORDER_GROUP, f"order group triggered ({why.value})",
                  level=logging.WARNING, group_event="triggered", reason=why.value,
                  order_group_id=self.group_id, epoch=self._lease.epoch)
        return True

    def lift(self, why: TriggeredBy) -> None:
        """The reason dora triggered the group is gone: reopen it, unless the exchange had
        triggered it before (a fill storm): that trigger's reset policy decides again."""
        if self.triggered_by is not why:
            return
        if self._beneath is not None:
            (self.triggered_by, self.triggered_ms), self._beneath = self._beneath, None
            log_event(self._log, EventType.ORDER_GROUP, f"{why.value} over; the group stays "
                      f"triggered by {self.triggered_by.value} until its reset",
                      group_event="lifted", order_group_id=self.group_id, reason=why.value)
            return
        self._reset(f"{why.value} over")

    def reset_if_due(self, policy: ResetPolicy, cooloff_ms: int) -> None:
        held = self._lease.held
        if self.triggered_by is None or held is None:
            return
        if reset_due(policy, self.triggered_by, self.triggered_ms, self._clock.now_ms(),
                     cooloff_ms, held.group_reset_ms):
            operator = held.group_reset_ms > self.triggered_ms
            self._reset("operator reset" if operator else f"{policy.value} after cool-off")

    def _reset(self, why: str) -> None:
        self._client.reset_order_group(self.group_id)
        log_event(self._log, EventType.ORDER_GROUP, f"order group reset: {why}",
                  group_event="reset", order_group_id=self.group_id, reason=why,
                  triggered_by=self.triggered_by.value if self.triggered_by else "")
        self.triggered_by, self.triggered_ms, self._beneath = None, 0, None
        self._fills.clear()

    # -- upkeep ---------------------------------------------------------------------------------
    def check(self, limit: Count) -> None:
        """The group still exists (an operator may have deleted it: then a new one), and its
        limit follows the configured one."""
        if not self.group_id:
            return
        try:
            group = self._client.fetch_order_group(self.group_id)
        except NotFoundError:
            log_event(self._log, EventType.ORDER_GROUP, "order group gone; creating another",
                      level=logging.WARNING, group_event="missing", order_group_id=self.group_id)
            self.start_epoch(limit)
            return
        if group.contracts_limit != limit:
            self._client.update_order_group_limit(self.group_id, limit)
            self.limit = limit
            log_event(self._log, EventType.ORDER_GROUP, "order group limit changed",
                      group_event="limit", order_group_id=self.group_id,
                      contracts_limit=format_count(limit))

    def delete_retired(self) -> None:
        """Delete earlier epochs' groups whose orders are gone (Kalshi caps groups per
        account), and record what is left to delete in the lease item."""
        held = self._lease.held
        if held is None or not held.retired_groups:
            return
        left = [g for g in held.retired_groups if not self._deleted(g)]
        if len(left) == len(held.retired_groups):
            return
        try:
            self._lease.renew(retired_groups=left)
        except LeaseLostError:
            return

    def _deleted(self, group_id: str) -> bool:
        try:
            if self._client.fetch_order_group(group_id).order_ids:
                return False
            self._client.delete_order_group(group_id)
        except NotFoundError:
            return True
        except DoraError as exc:
            log_event(self._log, EventType.ERROR, f"retired order group not deleted: {exc}",
                      level=logging.WARNING, error_type=type(exc).__name__,
                      order_group_id=group_id)
            return False
        log_event(self._log, EventType.ORDER_GROUP, "earlier epoch's order group deleted",
                  group_event="deleted", order_group_id=group_id)
        return True
