"""Outside participants: seeded makers and takers trading around a drifting fair value.

Each market has its own RNG seeded from (seed, ticker), and its own schedule of events in
simulated time: a fair-value random walk every second, maker ladder refreshes and IOC taker
orders at Poisson arrival times. Takers lean toward the fair value, so a quote resting inside
the spread gets filled, and more often when the fair value has moved through it (adverse).
"""

from __future__ import annotations

import hashlib
import random
from fractions import Fraction
from typing import Protocol

from dora.core.models import PriceRange, SelfTradePrevention, Side, SnapDirection, TimeInForce, TsMs
from dora.core.ticks import snap_price
from dora.core.units import ONE_CONTRACT, ONE_DOLLAR, Price
from dora.sim.engine.records import CreateOrder

FLOW_MAKER = "flow-maker"
FLOW_TAKER = "flow-taker"
FLOW_CASH = 10**15  # $1,000,000,000 in micro-dollars each

DEFAULT_MAKER_RATE = Fraction(1, 2)  # ladder refreshes per second per market
DEFAULT_TAKER_RATE = Fraction(1, 4)  # taker orders per second per market
DRIFT_INTERVAL_MS = 1_000
DRIFT_STEP = 40  # fair value moves up to $0.004 a second
FAIR_MIN, FAIR_MAX = 300, 9_700
MAKER_LEVELS = 3
LEVEL_SPACING = 100  # one cent between ladder levels
LEAN_PCT = 25  # takers buy 75% of the time when the fair value is above the mid
NOISE_PCT = 30  # share of takers that cross far (uninformed, sweeping)
RESPREAD_PCT = 20  # share of ladder refreshes that pick a new half-spread

SUB_DRIFT, SUB_MAKER, SUB_TAKER = 0, 1, 2


class FlowVenue(Protocol):
    def flow_can_trade(self, ticker: str) -> bool: ...
    def flow_ranges(self, ticker: str) -> tuple[PriceRange, ...]: ...
    def flow_quote(self, ticker: str) -> tuple[Price | None, Price | None]: ...
    def flow_resting(self, user_id: str, ticker: str) -> list[tuple[str, Side, Price]]: ...
    def flow_cancel(self, user_id: str, order_id: str, now_ms: TsMs) -> None: ...
    def flow_submit(self, user_id: str, req: CreateOrder, now_ms: TsMs) -> None: ...


class FlowMarket:
    def __init__(self, seed: int, ticker: str, index: int, fair: Price) -> None:
        digest = hashlib.sha256(f"dora-sim-flow:{seed}:{ticker}".encode()).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "big"))
        self.ticker = ticker
        self.index = index
        self.fair = fair
        self.half_spread = self.rng.randint(2, 4) * LEVEL_SPACING
        self.enabled = True
        self.maker_rate = DEFAULT_MAKER_RATE
        self.taker_rate = DEFAULT_TAKER_RATE
        self.next_ms: list[TsMs | None] = [None, None, None]

    def arm(self, now_ms: TsMs) -> list[tuple[TsMs, int]]:
        """(Re)start the schedule from ``now_ms``; returns the (due, sub-kind) events to queue."""
        if not self.enabled:
            self.next_ms = [None, None, None]
            return []
        first_ladder = now_ms if self.maker_rate > 0 else None  # quote at once
        self.next_ms = [now_ms + DRIFT_INTERVAL_MS, first_ladder,
                        self._after(now_ms, self.taker_rate)]
        return [(due, sub) for sub, due in enumerate(self.next_ms) if due is not None]

    def _after(self, now_ms: TsMs, rate: Fraction) -> TsMs | None:
        if rate <= 0:
            return None
        # Exponential inter-arrival time; a float only for a waiting time, never for money.
        return now_ms + 1 + int(self.rng.expovariate(float(rate)) * 1000)

    def run(self, venue: FlowVenue, sub: int, due_ms: TsMs) -> TsMs | None:
        """Handle one due event; returns when the next event of this kind is due."""
        if sub == SUB_DRIFT:
            self.fair = min(max(self.fair + self.rng.randint(-DRIFT_STEP, DRIFT_STEP), FAIR_MIN),
                            FAIR_MAX)
            nxt: TsMs | None = due_ms + DRIFT_INTERVAL_MS
        elif sub == SUB_MAKER:
            if venue.flow_can_trade(self.ticker):
                self.refresh_ladder(venue, due_ms)
            nxt = self._after(due_ms, self.maker_rate)
        else:
            if venue.flow_can_trade(self.ticker):
                self._send_taker(venue, due_ms)
            nxt = self._after(due_ms, self.taker_rate)
        self.next_ms[sub] = nxt
        return nxt

    def refresh_ladder(self, venue: FlowVenue, now_ms: TsMs) -> None:
        """Re-centre the maker ladder on the fair value; levels already in place keep their
        queue priority, the rest are canceled and replaced."""
        if self.rng.randrange(100) < RESPREAD_PCT:
            self.half_spread = self.rng.randint(2, 4) * LEVEL_SPACING
        wanted = self._ladder(venue.flow_ranges(self.ticker))
        for order_id, side, price in venue.flow_resting(FLOW_MAKER, self.ticker):
            if (side, price) in wanted:
                del wanted[(side, price)]
            else:
                venue.flow_cancel(FLOW_MAKER, order_id, now_ms)
        for side, price in wanted:
            size = self.rng.randint(5, 40) * ONE_CONTRACT
            venue.flow_submit(FLOW_MAKER, _order(self.ticker, side, price, size, TimeInForce.GTC),
                              now_ms)

    def _ladder(self, ranges: tuple[PriceRange, ...]) -> dict[tuple[Side, Price], None]:
        wanted: dict[tuple[Side, Price], None] = {}
        for level in range(MAKER_LEVELS):
            offset = self.half_spread + level * LEVEL_SPACING
            for side, target, direction in ((Side.BID, self.fair - offset, SnapDirection.DOWN),
                                            (Side.ASK, self.fair + offset, SnapDirection.UP)):
                price = snap_price(ranges, target, direction)
                if price is not None:
                    wanted[(side, price)] = None
        return wanted

    def _send_taker(self, venue: FlowVenue, now_ms: TsMs) -> None:
        best_bid, best_ask = venue.flow_quote(self.ticker)
        mid = ((best_bid if best_bid is not None else self.fair)
               + (best_ask if best_ask is not None else self.fair)) // 2
        lean = LEAN_PCT if self.fair > mid else -LEAN_PCT if self.fair < mid else 0
        side = Side.BID if self.rng.randrange(100) < 50 + lean else Side.ASK
        noisy = self.rng.randrange(100) < NOISE_PCT
        slack = self.rng.randint(2, 5) if noisy else self.rng.randint(0, 2)
        size = self.rng.randint(20, 60) if noisy and self.rng.randrange(3) == 0 \
            else self.rng.randint(1, 10)
        ranges = venue.flow_ranges(self.ticker)
        if side is Side.BID:
            target = min(self.fair + slack * LEVEL_SPACING, ONE_DOLLAR - 1)
            price = snap_price(ranges, target, SnapDirection.DOWN)
        else:
            target = max(self.fair - slack * LEVEL_SPACING, 1)
            price = snap_price(ranges, target, SnapDirection.UP)
        if price is not None:
            venue.flow_submit(FLOW_TAKER, _order(self.ticker, side, price, size * ONE_CONTRACT,
                                                 TimeInForce.IOC), now_ms)


def _order(ticker: str, side: Side, price: Price, count: int, tif: TimeInForce) -> CreateOrder:
    stp = (SelfTradePrevention.MAKER if tif is TimeInForce.GTC
           else SelfTradePrevention.TAKER_AT_CROSS)
    return CreateOrder(ticker=ticker, side=side, price=price, count=count, time_in_force=tif,
                       self_trade_prevention=stp)
