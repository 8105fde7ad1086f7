"""Whose order is this: the lease epoch and shard in dora's client order ids. Pure.

Every order dora sends is tagged right after its prefix with the epoch (the lease's fencing token)
and the shard index of the lease it was sent under: ``dora-e12s0-<salt>-...``. The prefix itself
stays ``dora-``, so an operator's manual orders are still known by its absence. A process judges
each listed order against its own lease (docs/architecture.md#lease):

- ``MANUAL``: not dora's. Never cancelled; it counts toward the risk limits.
- ``OWN``: this shard, this epoch.
- ``EARLIER``: this shard, an earlier epoch, or an untagged order of an older dora: what a dead
  or stopped holder left. The new holder removes it.
- ``NEWER``: this shard, a later epoch: a holder that took over from this process. Never touched,
  never even seen: a process that lost its lease must not cancel its successor's quotes.
- ``OTHER_SHARD``: another shard's order in one of this shard's markets (the market was moved by
  its config, or the layout changed). Never touched, and the market is not quoted while it rests.
"""

from __future__ import annotations

import re
from enum import StrEnum

from dora.core.models import RestingOrder

_TAG = re.compile(r"e(\d{1,9})s(\d{1,2})-")

# Why dora's own gate before the exchange (dora/bot/fencing.py) sent an order write not at all:
# the error codes of the refused results. None says anything about the market.
NOT_HELD = "lease_not_held"
GROUP_CLOSED = "order_group_closed"
STOPPING = "stopping"  # a stop was requested while a phase's later waves waited
# the cycle's reads are older than max_plan_age_ms: creates still waiting for write tokens are
# left to the next cycle, which plans them again on fresh reads
PLAN_STALE = "plan_stale"
GATE_REFUSALS = frozenset({NOT_HELD, GROUP_CLOSED, STOPPING, PLAN_STALE})


def not_sent(code: str) -> str:
    """The message of an order write refused before it was sent, for its error code."""
    return "not sent: " + code.replace("_", " ")


class Whose(StrEnum):
    MANUAL = "manual"
    OWN = "own"
    EARLIER = "earlier"
    NEWER = "newer"
    OTHER_SHARD = "other_shard"


def epoch_salt(epoch: int, shard_index: int, salt: str) -> str:
    """The id salt of an order sent under lease ``epoch`` of shard ``shard_index``."""
    if epoch < 1 or shard_index < 0:
        raise ValueError(f"epoch must be >= 1 and shard index >= 0, got {epoch}, {shard_index}")
    return f"e{epoch}s{shard_index}-{salt}"


def order_tag(client_order_id: str, prefix: str) -> tuple[int, int] | None:
    """(epoch, shard index) of one of dora's ids, None when untagged (or not dora's)."""
    if not client_order_id.startswith(prefix):
        return None
    match = _TAG.match(client_order_id, len(prefix))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def whose(order: RestingOrder, prefix: str, shard_index: int, epoch: int) -> Whose:
    if not order.client_order_id.startswith(prefix):
        return Whose.MANUAL
    tag = order_tag(order.client_order_id, prefix)
    if tag is None:
        return Whose.EARLIER
    order_epoch, order_shard = tag
    if order_shard != shard_index:
        return Whose.OTHER_SHARD
    if order_epoch == epoch:
        return Whose.OWN
    return Whose.EARLIER if order_epoch < epoch else Whose.NEWER


VISIBLE = frozenset({Whose.MANUAL, Whose.OWN, Whose.EARLIER})
