from __future__ import annotations

from typing import Any

from dora.core.models import SelfTradePrevention, Side, TimeInForce
from dora.sim.engine.engine import Engine
from dora.sim.engine.records import CreateOrder, SimOrder

TICKER = "MKT"
DAY_MS = 86_400_000
CASH = 1_000 * 1_000_000  # $1,000
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
BID, ASK = Side.BID, Side.ASK
TAKER_AT_CROSS, MAKER = SelfTradePrevention.TAKER_AT_CROSS, SelfTradePrevention.MAKER


def req(side: Side, price: int, count: int, tif: TimeInForce = GTC, *, ticker: str = TICKER,
        stp: SelfTradePrevention = TAKER_AT_CROSS, **extra: Any) -> CreateOrder:
    return CreateOrder(ticker=ticker, side=side, price=price, count=count, time_in_force=tif,
                       self_trade_prevention=stp, **extra)


def place(engine: Engine, user: str, side: Side, price: int, count: int,
          tif: TimeInForce = GTC, **extra: Any) -> SimOrder:
    return engine.create_order(user, req(side, price, count, tif, **extra))
