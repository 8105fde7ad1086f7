"""Order groups as dora uses them: the limit, the triggered rule and the reset policy. Pure.

Kalshi's order group cancels every order in it once the contracts matched across the group within a
rolling 15 s reach its limit, and refuses new orders into it (``order_group_triggered``) until it
is reset. Its REST answer has no "triggered" flag, so dora judges it from what it sees
(docs/kalshi-notes.md#order-groups): a create refused ``order_group_triggered``, or its own fills
of the group's orders adding up to the limit within 15 s. dora triggers the group itself to take
every quote down at once (a halt, a stop, a lease it may be losing).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import StrEnum

from dora.core.market_config import MarketConfig
from dora.core.models import Fill, TsMs
from dora.core.units import Count

GROUP_WINDOW_MS = 15_000
TRIGGERED_CODE = "order_group_triggered"


class ResetPolicy(StrEnum):
    AUTO = "auto"  # reset after the cool-off
    MANUAL = "manual"  # reset only by `dora groups reset`


class TriggeredBy(StrEnum):
    FILLS = "fills"  # the limit was reached (a fill storm)
    REFUSED = "refused"  # a create was refused order_group_triggered
    HALT = "halt"
    STOP = "stop"
    LEASE = "lease"  # the lease could not be renewed in time

    @property
    def by_dora(self) -> bool:
        """dora pulled the quotes itself: it resets as soon as the reason is gone."""
        return self in (TriggeredBy.HALT, TriggeredBy.STOP, TriggeredBy.LEASE)


def default_group_limit(configs: Iterable[MarketConfig], max_total_exposure: Count) -> Count:
    """The contracts a shard's group may match in 15 s when ``max_matched_contracts_15s`` is not
    set: what its markets' caps allow in both directions (a full swing from the long cap to the
    short cap), and never more than twice the account's exposure cap. At least one contract."""
    caps = sum(c.max_inventory_yes + c.max_inventory_no for c in configs if c.enabled)
    return max(min(caps, 2 * max_total_exposure), 100)


def limit_reached(fills: Iterable[Fill], order_ids: Collection[str], limit: Count) -> Count:
    """The most contracts of ``order_ids`` matched within any 15 s window, when that reaches
    ``limit``; 0 otherwise. A fill at the window's far edge no longer counts (as the exchange's
    window drops matches older than 15 s)."""
    ours = sorted((f for f in fills if f.order_id in order_ids), key=lambda f: f.ts_ms)
    start = 0
    matched = 0
    for fill in ours:
        matched += fill.count
        while ours[start].ts_ms <= fill.ts_ms - GROUP_WINDOW_MS:
            matched -= ours[start].count
            start += 1
        if matched >= limit:
            return matched
    return 0


def reset_due(
    policy: ResetPolicy, triggered_by: TriggeredBy, triggered_ms: TsMs, now_ms: TsMs,
    cooloff_ms: int, operator_reset_ms: TsMs,
) -> bool:
    """Whether a group the exchange triggered may be reset now. An operator's `dora groups
    reset` (recorded after the trigger) always counts; otherwise only ``auto`` resets, once the
    cool-off has passed. Groups dora triggered itself are reset by whoever removes the reason."""
    if triggered_by.by_dora:
        return False
    if operator_reset_ms > triggered_ms:
        return True
    return policy is ResetPolicy.AUTO and now_ms - triggered_ms >= cooloff_ms
