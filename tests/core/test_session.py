"""The session's start and the cash it put to work and got back."""

from __future__ import annotations

from dora.core.models import Balance, Fill, PositionState, Side
from dora.core.session import SessionCash, session_flows, session_start

C = 100  # one contract in count units


def fill(fid: str, side: Side, price: int, count: int, fee: int = 0) -> Fill:
    return Fill(fid, "o-" + fid, "M", side, price, count, fee, False, 0)


def test_session_pnl_is_the_accounts_value_now_minus_at_the_start() -> None:
    start = session_start("run", 5, Balance(10_000_000, 2_000_000),
                          {"M": PositionState("M", net=3 * C), "Z": PositionState("Z")})
    assert start.positions == (("M", 3 * C),) and start.value == 12_000_000
    assert start.pnl(Balance(11_500_000, 1_000_000)) == 500_000


def test_a_round_trip_invests_the_cost_and_fee_and_recoups_the_proceeds_less_the_fee() -> None:
    buy = fill("1", Side.BID, 4000, 10 * C, fee=20_000)  # 10 at $0.40
    sell = fill("2", Side.ASK, 5000, 10 * C, fee=20_000)  # 10 at $0.50
    cash = session_flows(SessionCash(), {}, [(buy, 0), (sell, 0)], {})
    assert cash.invested == 4_000_000 + 20_000
    assert cash.recouped == 5_000_000 - 20_000
    assert cash.net == 960_000  # the round trip's P&L after both fees


def test_a_settlement_pays_back_the_lots_capital_and_what_it_realized() -> None:
    before = {"M": PositionState("M", net=10 * C, open_cost=4_000_000)}
    after = {"M": PositionState("M", net=0, realized_pnl=6_000_000, settled=True)}
    cash = session_flows(SessionCash(invested=4_000_000), before, [], after)
    assert cash.recouped == 10_000_000 and cash.net == 6_000_000
