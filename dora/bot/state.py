"""The bot's in-memory view of the world between cycles (rebuilt from the exchange every cycle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dora.core.breaker import Breaker
from dora.core.calibration import CalibrationReport
from dora.core.exit_policy import CloseWalk
from dora.core.ledger import BalanceTime, CashLedger, CashView
from dora.core.market_config import GlobalConfig, InvalidMarketConfig, MarketConfig
from dora.core.models import (
    Balance,
    ExchangeStatus,
    Fill,
    MarketRules,
    OrderBook,
    PositionState,
    PublicTrade,
    RestingOrder,
    RiskState,
    TsMs,
)
from dora.core.session import SessionCash, SessionStart
from dora.core.units import Count, Micros


class Mode(StrEnum):
    BATCH = "batch"
    PER_MARKET = "per_market"


@dataclass
class BotState:
    loaded: bool = False  # the shard's stored state was read into this one (Persister.load_into)
    positions: dict[str, PositionState] = field(default_factory=dict)
    risk: RiskState = field(default_factory=RiskState)
    seen_fills: dict[str, TsMs] = field(default_factory=dict)  # fill_id -> fill time
    # applied to positions but not yet in the trade log: survives a cycle that fails midway
    unlogged_fills: list[tuple[Fill, Micros]] = field(default_factory=list)
    global_config: GlobalConfig = field(default_factory=GlobalConfig)
    configs: dict[str, MarketConfig | InvalidMarketConfig] = field(default_factory=dict)
    rules: dict[str, MarketRules] = field(default_factory=dict)
    books: dict[str, OrderBook] = field(default_factory=dict)
    trades: dict[str, tuple[PublicTrade, ...]] = field(default_factory=dict)
    resting: list[RestingOrder] = field(default_factory=list)
    balance: Balance | None = None
    as_of_ms: TsMs = 0
    consecutive_errors: int = 0
    fills_total: int = 0
    last_sync_ms: dict[str, TsMs] = field(default_factory=dict)
    decision_signatures: dict[str, tuple[object, ...]] = field(default_factory=dict)
    decision_ids: dict[str, str] = field(default_factory=dict)  # order id -> decision id
    # order id -> client order id: Kalshi's fills carry only the order id; FILL lines name both
    client_order_ids: dict[str, str] = field(default_factory=dict)
    # Several shards (docs/architecture.md#shards): this shard's markets where another shard's
    # orders still rest (not quoted meanwhile), the operator's halt of every shard, and what
    # the other shards last saved of their exposure and today's P&L.
    blocked_markets: frozenset[str] = frozenset()
    operator_halt: str = ""
    elsewhere_exposure: Count = 0
    elsewhere_pnl: Micros = 0
    cash_ledger: CashLedger = field(default_factory=CashLedger)  # dora's writes vs the balance
    close_walks: dict[str, CloseWalk] = field(default_factory=dict)  # last passive close price
    close_orders: dict[str, str] = field(default_factory=dict)  # order id -> close reason
    # the lifecycle (dora.bot.lifecycle): markets set aside, with why
    no_quotes: dict[str, str] = field(default_factory=dict)  # not viable or not affordable
    no_orders: dict[str, str] = field(default_factory=dict)  # breaker open, market held
    breakers: dict[str, Breaker] = field(default_factory=dict)
    calibration: CalibrationReport | None = None
    session: SessionStart | None = None
    session_cash: SessionCash = field(default_factory=SessionCash)
    exchange: ExchangeStatus | None = None  # the exchange's trading status as last read
    drift_corrections: int = 0  # DRIFT corrections this cycle (the cycle summary reads it)

    def quotable_markets(self) -> list[str]:
        """Markets with an enabled, valid config and known rules that the lifecycle has not set
        aside, in a stable order."""
        return sorted(
            ticker
            for ticker, cfg in self.configs.items()
            if isinstance(cfg, MarketConfig) and cfg.enabled and ticker in self.rules
            and ticker not in self.blocked_markets
            and ticker not in self.no_quotes and ticker not in self.no_orders
        )

    def valid_configs(self) -> dict[str, MarketConfig]:
        return {t: c for t, c in self.configs.items() if isinstance(c, MarketConfig)}

    def exit_markets(self) -> list[str]:
        """Markets where dora holds an open position and knows the rules, in a stable order
        (not those where no order may go: a breaker open, the market held)."""
        return sorted(t for t, p in self.positions.items()
                      if p.net and not p.settled and t in self.rules and t not in self.no_orders)

    def cash_view(self) -> CashView | None:
        """The balance and what dora's writes it does not show yet do to it (None before the
        first balance read). A balance without its own timestamp counts as of the orders'."""
        if self.balance is None:
            return None
        as_of = BalanceTime.of(self.balance, self.as_of_ms)
        return self.cash_ledger.view(self.balance.balance, as_of)
