"""Reading the log tables back for the P&L report: trade-log rows and decision-log book marks.

Rows written by dora and by the earlier bot are both read (docs/compatibility.md#trade-log): the
earlier bot's rows may lack ``timestamp`` (the sort key's first part holds it) and ``is_taker``.
A row that cannot be read raises ValueError naming the row, so the caller can report it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dora.core.models import Fill, Side
from dora.core.pnl_report import BookMark, LoggedFill
from dora.core.timefmt import parse_iso_ms
from dora.core.units import Price, UnitError, dollars_decimal_to_price
from dora.store.codec import count_from_item, micros_from_item
from dora.store.tables import TRADE_SORT_KEY

# What the report needs from a decision record (DynamoDB ProjectionExpression paths).
BOOK_MARK_ATTRIBUTES = ("market_id", "timestamp", "order_book_snapshot.best_bid",
                        "order_book_snapshot.best_ask")


def parse_trade_row(item: Mapping[str, Any]) -> LoggedFill:
    key = str(item.get(TRADE_SORT_KEY) or "")
    try:
        return _trade_row(item, key)
    except (KeyError, ValueError, TypeError, UnitError) as exc:
        raise ValueError(f"trade-log row {item.get('date')}/{key}: {exc}") from exc


def _trade_row(item: Mapping[str, Any], key: str) -> LoggedFill:
    stamp = str(item.get("timestamp") or item.get("fill_timestamp")
                or key.split("#", maxsplit=1)[0])
    order_id = str(item.get("order_id") or "")
    taker = item.get("is_taker")
    fill = Fill(
        fill_id=str(item.get("fill_id") or key),
        order_id=order_id,
        ticker=_text(item, "market_id"),
        side=_side(item),
        price=dollars_decimal_to_price(_number(item.get("fill_price", item.get("price")))),
        count=count_from_item(_number(item.get("fill_size", item.get("size")))),
        fee=micros_from_item(item.get("fees")),
        is_taker=bool(taker),
        ts_ms=parse_iso_ms(stamp),
    )
    return LoggedFill(fill, micros_from_item(item.get("pnl_realized")),
                      taker if isinstance(taker, bool) else None)


def _side(item: Mapping[str, Any]) -> Side:
    """``type`` is the book side (bid/ask); the older ``side`` word says yes (bid) or no (ask)."""
    kind = item.get("type")
    if kind in ("bid", "ask"):
        return Side(kind)
    word = item.get("side")
    if word in ("yes", "no"):
        return Side.BID if word == "yes" else Side.ASK
    raise ValueError(f"unknown side type={kind!r} side={word!r}")


def parse_book_mark(item: Mapping[str, Any]) -> BookMark | None:
    """The record's best bid and ask; None for a record without a book (the ``ALL`` records
    written at startup, halts and fatal errors)."""
    snapshot = item.get("order_book_snapshot")
    market = item.get("market_id")
    if not isinstance(snapshot, Mapping) or not market or market == "ALL":
        return None
    try:
        return BookMark(parse_iso_ms(str(item["timestamp"])), str(market),
                        _price(snapshot.get("best_bid")), _price(snapshot.get("best_ask")))
    except (KeyError, ValueError, TypeError, UnitError) as exc:
        raise ValueError(f"decision-log record {item.get('date')}/{item.get('timestamp')}: "
                         f"{exc}") from exc


def _price(value: Any) -> Price | None:
    return None if value is None else dollars_decimal_to_price(_number(value))


def _number(value: Any) -> Decimal | int | str:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"expected a number, got {value!r}")
    return value


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} missing")
    return value
