"""The live status line shows the balance, what dora promised that the balance does not show yet,
and the cash still free."""

from __future__ import annotations

from dora.bot.status import CycleSummary, format_status


def summary(**fields: object) -> CycleSummary:
    base: dict[str, object] = dict(
        cycle=7, mode="batch", duration_ms=12, markets_quoted=3, resting_orders=6, cancelled=1,
        placed=2, failed=0, already_gone=0, fills=0, fills_total=4, requests=5, tokens=50,
        rate_limited=0, read_headroom_pct=90, write_headroom_pct=80, net_position=0,
        daily_pnl=-1_250_000, halted=False)
    base.update(fields)
    return CycleSummary(**base)  # type: ignore[arg-type]


def test_the_status_line_shows_balance_promised_and_free_cash() -> None:
    line = format_status(summary(balance=12_340_000, promised=2_000_000, free_cash=10_840_000,
                                 closing=1))
    assert "cash $12.34 promised $2.00 free $10.84" in line


def test_before_the_first_balance_read_the_cash_is_unknown() -> None:
    assert "cash -" in format_status(summary())


def test_the_line_shows_a_paused_exchange_the_oldest_read_and_open_breakers() -> None:
    line = format_status(summary(exchange_paused=True, oldest_sync_ms=4_500, breakers_open=2))
    assert "[PAUSED]" in line and "synced 4 s ago" in line and "breakers 2 open" in line
    quiet = format_status(summary(oldest_sync_ms=0))
    assert "[batch]" in quiet and "breakers" not in quiet
