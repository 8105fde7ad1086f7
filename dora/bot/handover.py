"""The loop's side of the lease: keeping it, taking over, stepping down, and the order group that
goes with each epoch (docs/architecture.md#lease).

- :meth:`Handover.tend` runs at every cycle's start and from the sleep between cycles: a holder
  renews when due, a standby looks for a free lease.
- :meth:`Handover.take_over` is the first thing a new holder does, before it looks at any order:
  its shard's view and state items, every earlier epoch's group triggered, its own group created.
- :meth:`Handover.pull_quotes` triggers the epoch's group (a halt, a stop, a lease running out):
  one call takes every quote of the epoch down exchange-side; the read-lag overlay learns that
  those orders are gone, so nothing cancels them a second time.
"""

from __future__ import annotations

import logging

from dora.bot.execute import Executor
from dora.bot.fencing import ShardView
from dora.bot.groups import GroupKeeper
from dora.bot.lease import LeaseKeeper
from dora.bot.persistence import Persister
from dora.bot.state import BotState
from dora.core.diff import Plan
from dora.core.errors import DoraError, LeaseLostError, StoreError
from dora.core.fencing import Whose
from dora.core.market_config import GlobalConfig
from dora.core.order_groups import ResetPolicy, TriggeredBy, default_group_limit
from dora.core.overlay import Overlay
from dora.core.units import Count
from dora.exchange.ratelimit import RateLimiter
from dora.runtime.clock import Clock
from dora.runtime.logs import EventType, log_event

GROUP_CHECK_EVERY = 10  # cycles between reads of the group (exists, limit) and retired groups


class Handover:
    def __init__(
        self, lease: LeaseKeeper, groups: GroupKeeper, view: ShardView, persister: Persister,
        executor: Executor, overlay: Overlay, clock: Clock, logger: logging.Logger,
    ) -> None:
        self.lease = lease
        self.groups = groups
        self.view = view
        self._persister = persister
        self._executor = executor
        self._overlay = overlay
        self._clock = clock
        self._log = logger

    def configure(self, shards: int | None, config: GlobalConfig, limiter: RateLimiter) -> None:
        """The layout (``--shards``/DORA_SHARDS, else the global config's, else 1), the lease's
        duration, and this process's share of the account's rate budget."""
        count = shards or config.shards or 1
        self.lease.configure(count, config.lease_duration_ms)
        limiter.share(count)

    def follow_config(self, config: GlobalConfig) -> None:
        self.lease.lease_ms = config.lease_duration_ms

    # -- keeping the lease ------------------------------------------------------------------------
    def tend(self, *, look: bool = False) -> bool:
        """Renew when due (holder) or look for a free lease (standby: at once when ``look``,
        else at most every second); True when one was just taken. A DynamoDB failure is logged
        and waited out."""
        if self.lease.held is not None:
            self.keep_lease()
            return False
        try:
            return self.lease.poll(force=look)
        except LeaseLostError:
            self.step_down()
        except StoreError as exc:
            log_event(self._log, EventType.ERROR, f"lease check failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__)
        return False

    def keep_lease(self) -> None:
        """Renew the held lease when due, never take one (from :meth:`tend` and before every
        order write, so between the waves of a long phase too). A lost lease steps down; a
        DynamoDB failure is logged by the renewal and leaves the lease to run down (the fence
        then refuses what needs it)."""
        if self.lease.held is None:
            return
        try:
            self.lease.renew_if_due()
        except LeaseLostError:
            self.step_down()

    def step_down(self, why: str = "") -> None:
        """Not the holder any more: this process only watches from here."""
        if why:
            self.lease.lose(why)
        self.view.drop()

    # -- taking over -----------------------------------------------------------------------------
    def claim(self) -> None:
        """The shard's markets and state items from now on, every write fenced by the lease."""
        shard = self.lease.shard
        if shard is None:
            raise LeaseLostError("taking over without a lease")
        self.view.hold(shard, self.lease.epoch)
        self._persister.use_shard(shard, self.lease.fence)

    def fence_earlier(self, state: BotState) -> None:
        """Before anything looks at an order: every earlier epoch's group triggered (the
        exchange cancels what they left and refuses what they still send), this epoch's group
        created and recorded, this shard's state loaded."""
        self.groups.start_epoch(self.group_limit(state))
        self._persister.load_into(state)

    def cancel_earlier(self, state: BotState) -> None:
        """Cancel what earlier epochs (or an older dora) left in this shard's markets and the
        group triggers did not take down (untagged orders, orders outside any group)."""
        earlier = [o for o in state.resting if self.view.whose(o) is Whose.EARLIER]
        if not earlier:
            return
        self._persister.record_special("startup_cancel", state, self._clock.now_ms())
        report = self._executor.execute(Plan(cancels=tuple(earlier)), {}, batch=True)
        log_event(self._log, EventType.STARTUP, "cancelled what earlier epochs left",
                  cancelled=report.cancelled, already_gone=report.already_gone,
                  **{f"cancel_404_{k.value}": n for k, n in report.gone.items()})

    # -- the group ------------------------------------------------------------------------------
    def group_limit(self, state: BotState) -> Count:
        config = state.global_config
        if config.max_matched_contracts_15s is not None:
            return config.max_matched_contracts_15s
        return default_group_limit(state.valid_configs().values(), config.max_total_exposure)

    def tend_group(self, state: BotState, cycle: int) -> None:
        """Create the group if that failed, reset it by policy, and every few cycles check it
        and delete earlier epochs' groups whose orders are gone."""
        config = state.global_config
        limit = self.group_limit(state)
        self.groups.ensure_group(limit)
        self.groups.on_listed((o.order_id, o.order_group_id) for o in state.resting)
        policy = ResetPolicy(config.order_group_reset)
        self.groups.reset_if_due(policy, config.order_group_cooloff_s * 1000)
        if cycle % GROUP_CHECK_EVERY == 0:
            self.groups.check(limit)
            self.groups.delete_retired()

    def may_quote(self, state: BotState) -> bool:
        """The lease has half its time left and the group is open. A lease running out pulls
        every quote first (it may be lost without this process knowing); a renewed one lets
        the group reopen."""
        if not self.lease.may_place():
            if self.lease.held is not None and self.groups.triggered_by is None:
                self.pull_quotes(state, TriggeredBy.LEASE)
            return False
        self.groups.lift(TriggeredBy.LEASE)
        return self.groups.may_place()

    def pull_quotes(self, state: BotState, why: TriggeredBy) -> bool:
        """Trigger the epoch's group: the exchange cancels all its orders at once. False when
        there is no group or the call failed (the caller cancels order by order then)."""
        try:
            sent = self.groups.trigger(why)
        except DoraError as exc:
            log_event(self._log, EventType.ERROR, f"order group trigger failed: {exc}",
                      level=logging.ERROR, error_type=type(exc).__name__, reason=why.value)
            return False
        if not sent:
            return False
        answered_ms = self._clock.now_ms()
        self._overlay.record_group_cancelled(self.groups.group_id, answered_ms)
        placed = [order for order, _ in self._overlay.placed.values()]
        for order in [*state.resting, *placed]:  # placed: sent this cycle, not listed yet
            if order.order_group_id == self.groups.group_id or \
                    order.order_id in self.groups.order_ids:
                self._overlay.record_cancelled(order.order_id, answered_ms)
        self._executor.last_write_ms = max(self._executor.last_write_ms, answered_ms)
        return True

    def release(self) -> None:
        """The last step of a clean stop: a standby takes the shard over at once."""
        self.lease.release()
        self.view.drop()
