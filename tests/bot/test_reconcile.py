"""Reconcile details that the end-to-end tests cannot force the local exchange into."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dora.bot.reconcile import Reconciler
from dora.bot.state import BotState
from dora.core.models import Level, OrderBook
from dora.core.overlay import Overlay


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
