"""Decision-log records in the predecessor's dashboard shape."""

from __future__ import annotations

from dora.cli.bench_core import NOW_MS, build_world
from dora.core.records import decision_record
from dora.core.strategies.base import QuoteInputs
from dora.core.strategies.classic import compute_quotes
from dora.core.units import price_to_decimal
from dora.store.codec import to_item


def test_a_decision_record_carries_the_fields_the_dashboard_reads() -> None:
    (market,) = build_world(markets=1, seed=3).markets.values()
    inputs = QuoteInputs(market.rules, market.outside, market.trades, market.position,
                         market.config, NOW_MS, 600_000)
    decision = compute_quotes(inputs)
    record = decision_record(decision, "run", "run:M:1", inputs.book, inputs.trades,
                             inputs.position.net, "v1")

    snapshot = record["order_book_snapshot"]
    assert [lv["price"] for lv in snapshot["top_bids"]] == [
        price_to_decimal(lv.price) for lv in inputs.book.bids[:3]]
    assert len(snapshot["top_asks"]) == 3
    newest = max(inputs.trades, key=lambda t: t.ts_ms)
    calc = record["price_calc"]
    assert record["recent_trades"][0]["timestamp"] == calc["last_trade_time"]
    assert calc["last_trade_time"].endswith("Z")
    assert calc["last_trade_price"] == price_to_decimal(newest.price)
    assert calc["fv_source"] == "wma_24h"
    assert calc["wma_price"] == calc["fair_value"]
    assert to_item(record)  # exact Decimals only: no float can reach DynamoDB
