"""Reading the log tables back for the P&L report: by day, page by page, both row shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dora.core.models import Fill, Side
from dora.runtime.clock import FakeClock
from dora.store.log_items import parse_book_mark, parse_trade_row
from dora.store.store import Store

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000


def _fill(fill_id: str, ts_ms: int, side: Side = Side.BID, taker: bool = False) -> Fill:
    return Fill(fill_id, f"o-{fill_id}", "KXA", side, price=5_600, count=250, fee=17_500,
                is_taker=taker, ts_ms=ts_ms)


def test_trade_rows_are_read_by_day_across_pages_and_round_trip(store: Store) -> None:
    fills = [(_fill(f"f{i}", T0 + i * 1000 + (DAY if i >= 5 else 0), taker=i == 3), -i)
             for i in range(8)]
    assert store.record_fills(fills) == 8
    items = list(store.trade_log_items(["2026-01-01", "2026-01-02", "2026-01-03"], page_size=2))
    parsed = sorted((parse_trade_row(item) for item in items), key=lambda f: f.fill.fill_id)
    assert [(p.fill, p.realized, p.taker) for p in parsed] == [(f, pnl, f.is_taker)
                                                              for f, pnl in fills]
    assert list(store.trade_log_items(["2026-01-01"], page_size=3)) == [
        i for i in items if i["date"] == "2026-01-01"]


def test_decision_records_give_book_marks_and_skip_the_all_records(
    store: Store, clock: FakeClock
) -> None:
    store.put_decision_records([
        {"market_id": "KXA", "order_book_snapshot": {"best_bid": Decimal("0.41"),
                                                     "best_ask": None, "mid": None},
         "price_calc": {"big": "x" * 100}},
        {"market_id": "ALL", "reason": "startup_cancel"},
    ])
    items = list(store.decision_book_items(["2026-01-01"], page_size=1))
    assert {frozenset(i) for i in items} >= {frozenset({"market_id", "timestamp",
                                                        "order_book_snapshot"})}
    assert all("price_calc" not in i for i in items)  # only what the report needs is read
    marks = [m for m in map(parse_book_mark, items) if m is not None]
    assert [(m.ticker, m.best_bid, m.best_ask, m.ts_ms) for m in marks] == [
        ("KXA", 4100, None, clock.now_ms())]


def test_a_row_the_earlier_bot_wrote_is_read() -> None:
    row: dict[str, Any] = {
        "date": "2026-01-01", "timestamp#order_id": "2026-01-01T00:00:01.500000#o-9",
        "market_id": "KXB", "side": "no", "price": Decimal("0.3"), "size": Decimal("4"),
        "fill_price": Decimal("0.3"), "fill_size": Decimal("4"), "pnl_realized": Decimal("0.12"),
        "fees": Decimal("0.02"), "order_id": "o-9",
    }
    parsed = parse_trade_row(row)
    assert (parsed.fill.side, parsed.fill.price, parsed.fill.count) == (Side.ASK, 3000, 400)
    assert (parsed.fill.ts_ms, parsed.realized, parsed.fill.fee) == (T0 + 1500, 120_000, 20_000)
    assert parsed.taker is None


@pytest.mark.parametrize("broken", [{"market_id": None}, {"price": "abc", "fill_price": "abc"},
                                    {"type": "x", "side": "maybe"}, {"timestamp": "yesterday"}])
def test_an_unreadable_row_raises_naming_it(broken: dict[str, Any]) -> None:
    row = {"date": "2026-01-01", "timestamp#order_id": "2026-01-01T00:00:00.000Z#o#f",
           "timestamp": "2026-01-01T00:00:00.000Z", "market_id": "KXA", "type": "bid",
           "price": Decimal("0.5"), "size": Decimal("1"), "pnl_realized": Decimal("0"),
           "fees": Decimal("0"), **broken}
    with pytest.raises(ValueError, match="trade-log row 2026-01-01/"):
        parse_trade_row(row)
