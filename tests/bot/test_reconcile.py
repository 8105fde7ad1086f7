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


def _drift_case() -> tuple[Reconciler, BotState]:
    reconciler = Reconciler(None, Overlay(), logging.getLogger("dora.test"),  # type: ignore[arg-type]
                            fill_overlap_ms=120_000)
    return reconciler, BotState()


def _fill(fill_id: str, side: Side, ts_ms: int) -> Fill:
    return Fill(fill_id, f"o-{fill_id}", "KXA", side, 5000, C, 0, False, ts_ms)


def test_a_position_seen_twice_is_adopted_only_if_no_fill_came_between_the_reads() -> None:
    """Positions lag fills: at both reads the exchange shows 0 while dora's fills say 1, but
    fills came between (sell 1, buy 1): the exchange's figure is stale, not a drift."""
    reconciler, state = _drift_case()
    reconciler._fold_fills(state, [_fill("f1", Side.BID, 1_000)])
    reconciler._fold_positions(state, [ExchangePosition("KXA", 0)])
    reconciler._fold_fills(state, [_fill("f2", Side.ASK, 5_000), _fill("f3", Side.BID, 9_000)])
    reconciler._fold_positions(state, [ExchangePosition("KXA", 0)])
    assert state.positions["KXA"].net == C and state.drift_corrections == 0

    reconciler._fold_positions(state, [ExchangePosition("KXA", 0)])  # quiet: now it is drift
    assert state.positions["KXA"].net == 0 and state.drift_corrections == 1


def test_a_position_read_older_than_dora_s_newest_fill_there_is_no_sign_of_drift() -> None:
    reconciler, state = _drift_case()
    reconciler._fold_fills(state, [_fill("f1", Side.BID, 9_000)])
    for _ in range(3):
        reconciler._fold_positions(state, [ExchangePosition("KXA", 0, updated_ms=8_000)])
    assert state.positions["KXA"].net == C and state.drift_corrections == 0
