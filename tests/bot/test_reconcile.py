"""Reconcile details that the end-to-end tests cannot force the local exchange into."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dora.bot.reconcile import Reconciler
from dora.bot.state import BotState
from dora.core.models import ExchangePosition, Fill, Level, OrderBook, Side, TsMs
from dora.core.overlay import Overlay
from dora.core.units import ONE_CONTRACT as C


class BooksReader:
    """Answers the multi-book call with the books it has; everything else is unused here."""

    def __init__(self, books: dict[str, OrderBook]) -> None:
        self.books = books

    def fetch_orderbooks(self, tickers: Sequence[str]) -> dict[str, OrderBook]:
        return {t: self.books[t] for t in tickers if t in self.books}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call {name}")


def test_a_book_the_exchange_leaves_out_is_dropped_not_kept_stale() -> None:
    reader = BooksReader({"A": OrderBook("A", (Level(4000, 100),), (Level(4200, 100),)),
                          "B": OrderBook("B", (Level(3000, 100),), (Level(3300, 100),))})
    reconciler = Reconciler(reader, Overlay(), logging.getLogger("dora.test"),
                            fill_overlap_ms=0)
    state = BotState()
    reconciler.sync_books(state, ["A", "B"])
    del reader.books["B"]
    reconciler.sync_books(state, ["A", "B"])
    assert set(state.books) == {"A"}


class FirstStartReader:
    """The exchange at a first start: positions read a moment before the newest fill shows in
    them (their reads lag the fills read)."""

    def __init__(self, positions: list[ExchangePosition], fills: list[Fill]) -> None:
        self.positions = positions
        self.fills = fills

    def fetch_positions(self) -> list[ExchangePosition]:
        return self.positions

    def fetch_fills(self, since_ms: TsMs | None = None) -> list[Fill]:
        return [f for f in self.fills if since_ms is None or f.ts_ms >= since_ms]


def test_at_a_first_start_a_fill_newer_than_the_positions_read_is_applied_once() -> None:
    now = 1_767_225_600_000
    held = Fill("f-held", "o1", "KXA", Side.BID, 5000, 2 * C, 0, False, now - 5_000)
    newer = Fill("f-newer", "o2", "KXA", Side.BID, 5000, 3 * C, 0, False, now - 300)
    elsewhere = Fill("f-flat", "o3", "KXB", Side.BID, 4000, 1 * C, 0, False, now - 200)
    reader = FirstStartReader(
        [ExchangePosition("KXA", 2 * C, exposure=2 * C * 5000, updated_ms=now - 5_000)],
        [held, newer, elsewhere])
    reconciler = Reconciler(reader, Overlay(), logging.getLogger("dora.test"),  # type: ignore[arg-type]
                            fill_overlap_ms=120_000)
    state = BotState()
    reconciler.adopt_exchange_positions(state, now)
    applied = reconciler.sync_fills(state)
    assert sorted(f.fill_id for f, _ in applied) == ["f-flat", "f-newer"]
    assert state.positions["KXA"].net == 5 * C and state.positions["KXB"].net == 1 * C
    assert reconciler.sync_fills(state) == []  # and only once
