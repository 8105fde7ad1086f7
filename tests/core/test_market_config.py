from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from dora.core.diff import Plan
from dora.core.market_config import (
    GlobalConfig,
    InvalidMarketConfig,
    MarketConfig,
    global_config_to_item,
    market_config_to_item,
    parse_global_config,
    parse_market_config,
)
from dora.core.models import OrderRequest, RiskState, Side
from dora.core.risk import RiskContext, check_plan, evaluate_halt
from tests.core.builders import TICKER
from tests.core.builders import config as builder_config


def test_missing_fields_take_the_predecessor_bot_defaults() -> None:
    parsed = parse_market_config({"market_id": "KX-A"})
    assert parsed == MarketConfig(
        market_id="KX-A",
        enabled=False,
        quote_size=1000,
        min_spread=600,
        max_inventory_yes=10_000,
        max_inventory_no=10_000,
        inventory_skew_factor=Fraction(1, 4),
    )
    assert isinstance(parsed, MarketConfig)
    assert (parsed.levels, parsed.level_spacing_ticks, parsed.fair_value_source) == (1, 1, "trades")
    assert (parsed.tight_book_spread, parsed.volatility_gate, parsed.fair_value) == (
        600,
        True,
        None,
    )


def test_dynamodb_decimals_are_read_exactly() -> None:
    parsed = parse_market_config(
        {
            "market_id": "KX-A",
            "enabled": True,
            "quote_size": Decimal("5"),
            "min_spread": Decimal("0.04"),
            "max_inventory_yes": Decimal("25"),
            "max_inventory_no": Decimal("7"),
            "inventory_skew_factor": Decimal("0.3"),
            "fair_value": Decimal("0.29"),
            "toxicity_score": Decimal("0.7"),
            "event_ticker": "KXE",
            "levels": Decimal("3"),
            "level_spacing_ticks": Decimal("2"),
            "fair_value_source": "microprice",
            "tight_book_spread": Decimal("0.05"),
            "volatility_gate": False,
        }
    )
    assert parsed == MarketConfig(
        market_id="KX-A",
        enabled=True,
        quote_size=500,
        min_spread=400,
        max_inventory_yes=2500,
        max_inventory_no=700,
        inventory_skew_factor=Fraction(3, 10),
        fair_value=2900,
        toxicity_score=Decimal("0.7"),
        event_ticker="KXE",
        levels=3,
        level_spacing_ticks=2,
        fair_value_source="microprice",
        tight_book_spread=500,
        volatility_gate=False,
    )


def test_ints_and_strings_are_accepted_like_decimals() -> None:
    parsed = parse_market_config({"market_id": "KX-A", "quote_size": 3, "min_spread": "0.05"})
    assert isinstance(parsed, MarketConfig)
    assert (parsed.quote_size, parsed.min_spread) == (300, 500)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("quote_size", Decimal("-1"), "quote_size is negative"),
        ("min_spread", Decimal("1"), "min_spread"),
        ("min_spread", Decimal("1.5"), "min_spread"),
        ("min_spread", Decimal("0"), "min_spread"),
        ("fair_value", Decimal("0"), "fair_value"),
        ("fair_value", Decimal("1"), "fair_value"),
        ("fair_value", Decimal("1.2"), "fair_value"),
        ("max_inventory_no", Decimal("-3"), "max_inventory_no"),
        ("quote_size", "ten", "quote_size"),
        ("quote_size", 1.5, "quote_size must be a number, got float"),
        ("enabled", "maybe", "enabled must be a boolean"),
        ("levels", Decimal("0"), "levels"),
        ("levels", Decimal("1.5"), "levels must be an integer"),
        ("level_spacing_ticks", Decimal("0"), "level_spacing_ticks"),
        ("fair_value_source", "oracle", "fair_value_source"),
        ("min_spread", Decimal("0.00001"), "min_spread"),
        ("inventory_skew_factor", Decimal("-0.1"), "inventory_skew_factor"),
        ("tight_book_spread", Decimal("1"), "tight_book_spread"),
        ("event_ticker", Decimal("5"), "event_ticker must be a string"),
    ],
)
def test_malformed_fields_make_the_config_invalid_with_a_reason(
    field: str, value: Any, fragment: str
) -> None:
    item = {"market_id": "KX-A", "enabled": True, field: value}
    parsed = parse_market_config(item)
    assert isinstance(parsed, InvalidMarketConfig)
    assert parsed.market_id == "KX-A"
    assert fragment in parsed.reason
    assert parsed.raw == item


def test_missing_market_id_is_invalid() -> None:
    parsed = parse_market_config({"enabled": True})
    assert isinstance(parsed, InvalidMarketConfig)
    assert "market_id" in parsed.reason


def test_one_bad_market_does_not_affect_another() -> None:
    items = [{"market_id": "A", "quote_size": Decimal("-5")}, {"market_id": "B", "enabled": True}]
    parsed = [parse_market_config(i) for i in items]
    assert isinstance(parsed[0], InvalidMarketConfig)
    assert isinstance(parsed[1], MarketConfig) and parsed[1].enabled


def test_null_optional_fields_mean_unset() -> None:
    parsed = parse_market_config({"market_id": "A", "fair_value": None, "toxicity_score": None})
    assert isinstance(parsed, MarketConfig)
    assert parsed.fair_value is None and parsed.toxicity_score is None


def test_unknown_fields_round_trip_through_the_item() -> None:
    item = {
        "market_id": "KX-A",
        "enabled": True,
        "quote_size": Decimal("5"),
        "min_spread": Decimal("0.5"),
        "fair_value": Decimal("0.4"),
        "toxicity_score": Decimal("0.2"),
        "event_ticker": "KXE",
        "created_at": "2025-12-01T00:00:00+00:00",
        "disabled_reason": "pnl",
        "nested": {"a": [Decimal("1")]},
    }
    parsed = parse_market_config(item)
    assert isinstance(parsed, MarketConfig)
    out = market_config_to_item(parsed)
    for key, value in item.items():
        assert out[key] == value, key
    assert parse_market_config(out) == parsed


def test_market_config_item_uses_decimals_not_floats() -> None:
    parsed = parse_market_config({"market_id": "A", "inventory_skew_factor": Decimal("0.125")})
    assert isinstance(parsed, MarketConfig)
    out = market_config_to_item(parsed)
    assert out["inventory_skew_factor"] == Decimal("0.125")
    assert not any(isinstance(v, float) for v in out.values())


def test_constructing_an_invalid_config_directly_raises() -> None:
    with pytest.raises(ValueError, match="min_spread"):
        MarketConfig(market_id="A", min_spread=10_000)


def test_global_defaults_when_the_item_is_absent() -> None:
    config, problems = parse_global_config(None)
    assert config == GlobalConfig()
    assert problems == []
    assert config.use_batch_execution is None
    assert (config.max_total_exposure, config.max_daily_loss) == (50_000, 100_000_000)
    assert (config.trading_enabled, config.loop_interval_ms, config.cancel_on_startup) == (
        True,
        5000,
        True,
    )


def test_global_config_reads_every_key() -> None:
    item = {
        "key": "global_config",
        "max_total_exposure": Decimal("1000"),
        "max_daily_loss": Decimal("250.5"),
        "trading_enabled": False,
        "loop_interval_ms": Decimal("2000"),
        "cancel_on_startup": False,
        "use_batch_execution": True,
        "config_refresh_cycles": Decimal("3"),
        "close_guard_ms": Decimal("0"),
        "daily_reset_hour_utc": Decimal("5"),
        "max_consecutive_errors": Decimal("4"),
        "shards": Decimal("3"),
        "lease_duration_ms": Decimal("10000"),
        "max_matched_contracts_15s": Decimal("250"),
        "order_group_reset": "manual",
        "order_group_cooloff_s": Decimal("30"),
        "max_plan_age_ms": Decimal("4000"),
        "risk_aversion_k": Decimal("0.5"),
        "stop_loss": Decimal("5.000000"),
        "take_profit": Decimal("7.500000"),
        "max_hold_s": Decimal("3600"),
        "close_positions_before_s": Decimal("900"),
        "urgent_before_s": Decimal("60"),
        "close_max_slippage": Decimal("0.0300"),
        "close_on_disable": True,
        "min_cash_reserve": Decimal("25.000000"),
        "strategy": "microprice",
        "execution_log_per_order": True,
        "recalibrate_every_s": Decimal("30"),
        "breaker_failures": Decimal("3"),
        "breaker_cooloff_s": Decimal("10"),
        "breaker_cooloff_max_s": Decimal("600"),
        "stuck_after_s": Decimal("7200"),
        "cash_priority": "ticker",
    }
    config, problems = parse_global_config(item)
    assert problems == []
    assert config == GlobalConfig(
        max_total_exposure=100_000,
        max_daily_loss=250_500_000,
        trading_enabled=False,
        loop_interval_ms=2000,
        cancel_on_startup=False,
        use_batch_execution=True,
        config_refresh_cycles=3,
        close_guard_ms=0,
        daily_reset_hour_utc=5,
        max_consecutive_errors=4,
        stop_loss=5_000_000,
        take_profit=7_500_000,
        max_hold_s=3600,
        close_positions_before_s=900,
        urgent_before_s=60,
        close_max_slippage=300,
        close_on_disable=True,
        min_cash_reserve=25_000_000,
        strategy="microprice",
        execution_log_per_order=True,
        recalibrate_every_s=30,
        breaker_failures=3,
        breaker_cooloff_s=10,
        breaker_cooloff_max_s=600,
        stuck_after_s=7200,
        cash_priority="ticker",
        shards=3,
        lease_duration_ms=10_000,
        max_matched_contracts_15s=25_000,
        order_group_reset="manual",
        order_group_cooloff_s=30,
        max_plan_age_ms=4_000,
        extra={"key": "global_config", "risk_aversion_k": Decimal("0.5")},
    )
    assert global_config_to_item(config) == item


def test_use_batch_execution_absent_or_null_is_none() -> None:
    assert parse_global_config({"trading_enabled": True})[0].use_batch_execution is None
    assert parse_global_config({"use_batch_execution": None})[0].use_batch_execution is None
    assert "use_batch_execution" not in global_config_to_item(GlobalConfig())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("daily_reset_hour_utc", Decimal("24")),
        ("config_refresh_cycles", Decimal("0")),
        ("cancel_on_startup", "off"),
        ("close_guard_ms", "ten minutes"),
        ("max_consecutive_errors", Decimal("0")),
    ],
)
def test_a_malformed_global_key_keeps_its_default_and_is_reported(key: str, value: Any) -> None:
    config, problems = parse_global_config({key: value, "loop_interval_ms": Decimal("100")})
    assert getattr(config, key) == getattr(GlobalConfig(), key)
    assert config.loop_interval_ms == 100
    assert len(problems) == 1 and key in problems[0]


@pytest.mark.parametrize("value", ["off", "yes", Decimal("2"), None, 1.0])
def test_a_malformed_trading_enabled_stops_trading_and_is_reported(value: Any) -> None:
    config, problems = parse_global_config({"trading_enabled": value})
    assert config.trading_enabled is False
    assert len(problems) == 1 and "trading_enabled" in problems[0]
    assert "no new orders" in problems[0]


@pytest.mark.parametrize("key", ["max_daily_loss", "max_total_exposure"])
@pytest.mark.parametrize("value", ["lots", Decimal("-1"), None, 100.0, Decimal("NaN")])
def test_a_malformed_risk_limit_reads_as_zero_and_is_reported(key: str, value: Any) -> None:
    config, problems = parse_global_config({key: value, "loop_interval_ms": Decimal("100")})
    assert getattr(config, key) == 0
    assert config.loop_interval_ms == 100
    assert len(problems) == 1 and key in problems[0] and "using 0" in problems[0]


def test_a_hand_edited_item_with_bad_safety_keys_trades_nothing() -> None:
    item = {"trading_enabled": "off", "max_daily_loss": "lots", "max_total_exposure": "all"}
    config, problems = parse_global_config(item)
    assert (config.trading_enabled, config.max_daily_loss, config.max_total_exposure) == (
        False, 0, 0)
    assert len(problems) == 3
    plan = Plan(places=(OrderRequest(TICKER, Side.BID, 4000, 100, "dora-a"),))
    # each guard on its own: even were trading enabled, the zero exposure cap refuses the order
    ctx = RiskContext(global_config=replace(config, trading_enabled=True),
                      configs={TICKER: builder_config()}, positions={}, resting=[],
                      available_cash=10**12, halted=False)
    approved, rejections = check_plan(plan, ctx)
    assert approved.places == () and rejections[0].reason.startswith("max_total_exposure")
    assert evaluate_halt(RiskState(daily_pnl=0), 0, config, 0).halt is False
    assert evaluate_halt(RiskState(daily_pnl=-1), 0, config, 0).halt is True


# -- position closing settings and the strategy ---------------------------------------------------


def test_closing_settings_and_strategy_are_read_per_market_and_written_back() -> None:
    item = {
        "market_id": "KX-A", "enabled": True, "stop_loss": Decimal("5"),
        "take_profit": Decimal("2.5"), "max_hold_s": Decimal("3600"),
        "close_positions_before_s": Decimal("900"), "urgent_before_s": Decimal("30"),
        "close_max_slippage": Decimal("0.03"), "close_on_disable": True, "strategy": "microprice",
    }
    parsed = parse_market_config(item)
    assert isinstance(parsed, MarketConfig)
    assert (parsed.stop_loss, parsed.take_profit, parsed.max_hold_s) == (5_000_000, 2_500_000, 3600)
    assert (parsed.close_positions_before_s, parsed.urgent_before_s) == (900, 30)
    assert (parsed.close_max_slippage, parsed.close_on_disable, parsed.strategy) == (
        300, True, "microprice")
    assert parse_market_config(market_config_to_item(parsed)) == parsed
    unset = parse_market_config({"market_id": "KX-B", "stop_loss": None, "strategy": None})
    assert isinstance(unset, MarketConfig) and (unset.stop_loss, unset.strategy) == (None, None)
    assert "stop_loss" not in market_config_to_item(unset)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("stop_loss", Decimal("0"), "stop_loss must be > 0"),
        ("take_profit", Decimal("-1"), "take_profit must be > 0"),
        ("max_hold_s", Decimal("0"), "max_hold_s must be > 0"),
        ("max_hold_s", Decimal("1.5"), "max_hold_s must be an integer"),
        ("urgent_before_s", Decimal("-1"), "urgent_before_s must be >= 0"),
        ("close_max_slippage", Decimal("1"), "close_max_slippage must be >= 0 and < 1"),
        ("close_on_disable", "sometimes", "close_on_disable must be a boolean"),
        ("strategy", "my strategy!", "strategy must be"),
        ("strategy", Decimal("7"), "strategy must be a string"),
    ],
)
def test_a_malformed_closing_setting_invalidates_that_market(
    field: str, value: Any, problem: str
) -> None:
    parsed = parse_market_config({"market_id": "KX-A", "enabled": True, field: value})
    assert isinstance(parsed, InvalidMarketConfig)
    assert problem in parsed.reason


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stop_loss", Decimal("-5")),
        ("max_hold_s", "an hour"),
        ("close_positions_before_s", Decimal("-1")),
        ("urgent_before_s", Decimal("0.5")),
        ("close_max_slippage", Decimal("2")),
        ("close_on_disable", "maybe"),
        ("min_cash_reserve", Decimal("-1")),
        ("strategy", "no spaces allowed"),
    ],
)
def test_a_malformed_global_closing_setting_falls_back_to_its_default_with_a_reason(
    key: str, value: Any
) -> None:
    config, problems = parse_global_config({key: value})
    assert getattr(config, key) == getattr(GlobalConfig(), key)
    assert len(problems) == 1 and key in problems[0] and "using the default" in problems[0]


def test_global_closing_settings_null_means_unset() -> None:
    config, problems = parse_global_config({"stop_loss": None, "max_hold_s": None})
    assert problems == [] and (config.stop_loss, config.max_hold_s) == (None, None)
    assert "stop_loss" not in global_config_to_item(config)


@pytest.mark.parametrize(("key", "value"), [
    ("recalibrate_every_s", Decimal("-5")),
    ("recalibrate_every_s", Decimal("0")),
    ("breaker_failures", Decimal("0")),
    ("breaker_cooloff_s", Decimal("-1")),
    ("stuck_after_s", "soon"),
    ("cash_priority", "richest_first"),
])
def test_malformed_lifecycle_settings_fall_back_to_their_defaults(key: str, value: object) -> None:
    config, problems = parse_global_config({key: value})
    assert getattr(config, key) == getattr(GlobalConfig(), key)
    assert len(problems) == 1 and key in problems[0] and "using the default" in problems[0]


def test_a_longest_breaker_cooloff_below_the_first_falls_back_to_both_defaults() -> None:
    config, problems = parse_global_config(
        {"breaker_cooloff_s": Decimal("120"), "breaker_cooloff_max_s": Decimal("60")})
    assert (config.breaker_cooloff_s, config.breaker_cooloff_max_s) == (30, 900)
    assert problems and "breaker_cooloff_max_s" in problems[0]
