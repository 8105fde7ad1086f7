"""The caps hold through the check made once the cancels are answered, whatever the cancels
found: in batch and in per-market mode, a cancel that failed leaves its order counted, and one the
exchange found gone (or only partly there) counts what may have filled unseen as position."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from dora.bot.execute import Executor
from dora.bot.planning import QuoteSettings
from dora.bot.quoting import Quoter
from dora.bot.state import BotState
from dora.bot.strategies import StrategyRegistry
from dora.core.market_config import GlobalConfig, MarketConfig
from dora.core.models import (
    PRICE_LEVEL_STRUCTURES,
    Balance,
    CancelResult,
    CancelStatus,
    DecreaseResult,
    Level,
    MarketRules,
    MarketStatus,
    OrderBook,
    OrderRequest,
    PlaceResult,
    PlaceStatus,
    RestingOrder,
    Side,
)
from dora.core.overlay import Overlay
from dora.core.strategies import QuoteDecision, QuoteInputs, TargetQuote
from dora.core.strategies.record import PriceRecord, summarize_book
from dora.core.units import ONE_CONTRACT as C
from dora.exchange.orders import Sent
from dora.runtime.clock import FakeClock

NOW = 1_767_225_600_000
LOG = logging.getLogger("dora.test_quoting_limits")


class Fixed:
    """Bids ``targets[ticker]`` = (price, contracts), whatever the book."""

    def __init__(self, targets: dict[str, tuple[int, int]]) -> None:
        self.targets = targets

    def compute_quotes(self, inputs: QuoteInputs) -> QuoteDecision:
        ticker = inputs.rules.ticker
        price, count = self.targets[ticker]
        record = PriceRecord(summarize_book(inputs.book), inputs.position.net, mode="plugin")
        return QuoteDecision(ticker, (TargetQuote(ticker, Side.BID, price, count, 0),),
                             "quoted", record)


class Exchange:
    """Takes every create; answers every cancel with ``cancel_status``."""

    def __init__(self, clock: FakeClock, cancel_status: CancelStatus) -> None:
        self.clock = clock
        self.cancel_status = cancel_status
        self.placed: list[OrderRequest] = []

    def place_order(self, request: OrderRequest) -> PlaceResult:
        self.placed.append(request)
        return PlaceResult(request, PlaceStatus.PLACED, order_id=f"o-{request.client_order_id}",
                           remaining=request.count, ts_ms=self.clock.now_ms())

    def place_batches(self, requests: Sequence[OrderRequest]) -> list[Sent[PlaceResult]]:
        now = self.clock.now_ms()
        return [Sent([self.place_order(r) for r in requests], now, now)]

    def cancel_order(self, order_id: str) -> CancelResult:
        code = "" if self.cancel_status is CancelStatus.CANCELLED else "answered"
        return CancelResult(order_id, self.cancel_status, error_code=code)

    def cancel_batches(self, order_ids: Sequence[str]) -> list[Sent[CancelResult]]:
        now = self.clock.now_ms()
        return [Sent([self.cancel_order(i) for i in order_ids], now, now)]

    def decrease_orders(self, decreases: Sequence[tuple[str, int]]
                        ) -> list[Sent[DecreaseResult]]:
        raise AssertionError("no decreases here")

    def spare_write_tokens(self) -> int:
        return 0


class NoReads:
    def sync_books(self, state: BotState, tickers: Sequence[str]) -> None:
        """The books are already in the state."""


def _state(old_bid: RestingOrder, cap_total: int, markets: dict[str, MarketConfig]) -> BotState:
    state = BotState()
    state.global_config = GlobalConfig(max_total_exposure=cap_total, close_guard_ms=0)
    for ticker, config in markets.items():
        state.rules[ticker] = MarketRules(ticker, MarketStatus.ACTIVE, NOW + 72 * 3_600_000,
                                          PRICE_LEVEL_STRUCTURES["linear_cent"], "linear_cent")
        state.configs[ticker] = config
        state.books[ticker] = OrderBook(ticker, (Level(4000, 50 * C),), (Level(6000, 50 * C),))
    state.resting = [old_bid]
    state.balance = Balance(10**12, 0, NOW)
    state.as_of_ms = NOW
    return state


def _quoter(exchange: Exchange, targets: dict[str, tuple[int, int]]) -> Quoter:
    clock = exchange.clock
    executor = Executor(exchange, Overlay(), clock, LOG)  # type: ignore[arg-type]
    return Quoter(NoReads(), executor, LOG, QuoteSettings("dora-", None),  # type: ignore[arg-type]
                  StrategyRegistry({"fixed": Fixed(targets)}, {}))


def _market(ticker: str, **caps: int) -> MarketConfig:
    return MarketConfig(market_id=ticker, enabled=True, strategy="fixed", min_spread=200, **caps)


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "per_market"])
def test_a_cancel_that_failed_still_counts_against_the_total_cap(batch: bool) -> None:
    """A's old bid of 10 could not be cancelled, so it rests: B's bid of 8 would take the
    account to 18 contracts against a cap of 10."""
    targets = {"AAA": (4400, 2 * C), "BBB": (4500, 8 * C)}
    old = RestingOrder("A-old", "dora-e1s0-old-a-b0", "AAA", Side.BID, 4500, 10 * C)
    state = _state(old, 10 * C, {t: _market(t) for t in targets})
    exchange = Exchange(FakeClock(NOW), CancelStatus.FAILED)
    quoter = _quoter(exchange, targets)
    if batch:
        quoter.quote_batch(state, NOW, "e1s0-x-1", {}, fresh_books=list(targets))
    else:
        quoter.quote_per_market(state, NOW, "e1s0-x-1", {})
    worst = old.remaining + sum(r.count for r in exchange.placed)
    assert worst <= 10 * C, [(r.ticker, r.count) for r in exchange.placed]


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "per_market"])
@pytest.mark.parametrize("answer", [CancelStatus.NOT_FOUND, CancelStatus.CANCELLED])
def test_a_cancel_that_found_the_order_filled_leaves_no_room_for_more(
    batch: bool, answer: CancelStatus
) -> None:
    """The old bid of 20 filled unseen just before its cancel: the cancel is answered 404, or
    releases nothing (``reduced_by`` 0). Until the fills read shows it, the position may be long
    20, so a new bid of 10 would pass ``max_inventory_yes`` 20."""
    targets = {"AAA": (4400, 10 * C)}
    old = RestingOrder("A-old", "dora-e1s0-old-b0", "AAA", Side.BID, 4500, 20 * C)
    state = _state(old, 10**6 * C, {"AAA": _market("AAA", max_inventory_yes=20 * C)})
    exchange = Exchange(FakeClock(NOW), answer)
    quoter = _quoter(exchange, targets)
    if batch:
        outcome = quoter.quote_batch(state, NOW, "e1s0-x-1", {}, fresh_books=["AAA"])
    else:
        outcome = quoter.quote_per_market(state, NOW, "e1s0-x-1", {})
    assert exchange.placed == []
    assert outcome.rejected == 1
