from dataclasses import replace

from dora.core.models import OrderRequest, RestingOrder, Side
from dora.core.overlay import Overlay, is_unconfirmed, unconfirmed_order


def order(order_id: str, client_id: str = "", remaining: int = 1000) -> RestingOrder:
    return RestingOrder(order_id, client_id or f"dora-{order_id}", "MKT", Side.BID, 4500, remaining)


def test_placed_but_not_listed_counts_as_resting_until_as_of_passes():
    overlay = Overlay()
    placed = order("o1")
    overlay.record_placed(placed, written_ms=1_000)
    assert overlay.apply([], as_of_ms=900) == [placed]
    assert overlay.apply([], as_of_ms=1_000) == []


def test_placed_and_listed_is_not_doubled():
    overlay = Overlay()
    overlay.record_placed(order("o1"), written_ms=1_000)
    assert overlay.apply([order("o1")], as_of_ms=900) == [order("o1")]


def test_cancelled_but_still_listed_is_gone():
    overlay = Overlay()
    overlay.record_cancelled("o1", written_ms=1_000)
    assert overlay.apply([order("o1"), order("o2")], as_of_ms=999) == [order("o2")]
    assert overlay.cancelled == {"o1": 1_000}


def test_a_cancel_is_forgotten_once_a_later_listing_no_longer_shows_the_order():
    overlay = Overlay()
    overlay.record_cancelled("o1", written_ms=1_000)
    assert overlay.apply([order("o2")], as_of_ms=1_000) == [order("o2")]
    assert overlay.cancelled == {}


def test_an_order_the_exchange_called_gone_stays_gone_while_any_listing_shows_it():
    """A listing dated after the cancel that still shows the order (the answer's time came from
    dora's clock, behind the exchange's) must not bring it back: it would be cancelled twice."""
    overlay = Overlay()
    overlay.record_cancelled("o1", written_ms=1_000)
    assert overlay.apply([order("o1")], as_of_ms=1_500) == []
    assert overlay.apply([order("o1")], as_of_ms=2_000) == []
    assert overlay.apply([], as_of_ms=2_500) == []
    assert overlay.cancelled == {}


def test_a_listing_older_than_the_cancel_that_omits_the_order_does_not_end_it():
    """The order may simply not have been created yet as of that listing."""
    overlay = Overlay()
    overlay.record_cancelled("o1", written_ms=1_000)
    assert overlay.apply([], as_of_ms=900) == []
    assert overlay.apply([order("o1")], as_of_ms=950) == []


def test_decrease_shows_new_size_while_listing_lags():
    overlay = Overlay()
    overlay.record_decreased("o1", 400, written_ms=1_000)
    assert overlay.apply([order("o1")], as_of_ms=999)[0].remaining == 400
    assert overlay.apply([order("o1")], as_of_ms=1_001)[0].remaining == 1000


def test_unknown_outcome_order_is_matched_by_client_id_once_listed():
    overlay = Overlay()
    request = OrderRequest("MKT", Side.BID, 4500, 1000, "dora-x-1")
    pending = unconfirmed_order(request, sent_ms=1_000)
    assert is_unconfirmed(pending)
    overlay.record_placed(pending, written_ms=1_000)
    assert overlay.apply([], as_of_ms=500) == [pending]
    real = order("real-id", client_id="dora-x-1")
    assert overlay.apply([real], as_of_ms=600) == [real]


def test_a_triggered_group_hides_its_orders_from_listings_older_than_the_trigger():
    """The exchange cancelled every order of the group, including ones dora never learnt of (a
    lost create answer); a lagging listing must not make dora cancel them again."""
    overlay = Overlay()
    overlay.record_group_cancelled("g1", written_ms=1_000)
    in_group = replace(order("o1"), order_group_id="g1")
    other = replace(order("o2"), order_group_id="g2")
    assert overlay.apply([in_group, other], as_of_ms=999) == [other]
    assert overlay.apply([other], as_of_ms=1_000) == [other]
    assert overlay.groups_cancelled == {}
