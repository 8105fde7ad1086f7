"""Whose order is this: the epoch and shard after dora's prefix in every client order id."""

from __future__ import annotations

import pytest

from dora.core.fencing import Whose, epoch_salt, order_tag, whose
from dora.core.models import RestingOrder, Side

P = "dora-"


def order(client_id: str) -> RestingOrder:
    return RestingOrder("o1", client_id, "MKT", Side.BID, 4500, 100)


def test_the_tag_follows_the_prefix_which_stays_dora() -> None:
    salt = epoch_salt(12, 1, "abc123-7")
    assert salt == "e12s1-abc123-7"
    assert order_tag(P + salt + "-0123456789-b0", P) == (12, 1)
    assert order_tag("dora-abc123-7-0123456789-b0", P) is None  # an older dora's id
    assert order_tag("manual-e12s1-x", P) is None
    with pytest.raises(ValueError):
        epoch_salt(0, 0, "x")


@pytest.mark.parametrize(("client_id", "expected"), [
    ("my-own-order", Whose.MANUAL),
    ("dora-e5s1-x-b0", Whose.OWN),
    ("dora-e4s1-x-b0", Whose.EARLIER),
    ("dora-abcdef-3-x-b0", Whose.EARLIER),  # untagged: an older dora left it
    ("dora-e6s1-x-b0", Whose.NEWER),  # a successor's: never touched
    ("dora-e9s0-x-b0", Whose.OTHER_SHARD),
])
def test_orders_are_judged_against_this_process_s_lease(client_id: str, expected: Whose) -> None:
    assert whose(order(client_id), P, shard_index=1, epoch=5) is expected
