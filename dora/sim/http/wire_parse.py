"""Kalshi V2 request bodies -> engine inputs, validated strictly (400 ``invalid_parameters``
with a message naming the field). Pure. With ``wire`` the only sim modules knowing field names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from dora.core.models import SelfTradePrevention, Side, TimeInForce
from dora.core.units import Count, Price, UnitError, parse_count, parse_price
from dora.sim.engine.records import CreateOrder
from dora.sim.http.http_types import ApiError, Query, invalid

CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9_\-:+=/]{1,64}")
E = TypeVar("E", bound=StrEnum)
_COUNT_SHAPE = 'a fixed-point count string like "10.00"'
_PRICE_SHAPE = 'a dollar string like "0.5600"'

_CREATE_FIELDS = frozenset({
    "ticker", "client_order_id", "side", "count", "price", "expiration_time", "time_in_force",
    "post_only", "self_trade_prevention_type", "cancel_order_on_pause", "reduce_only",
    "subaccount", "order_group_id", "exchange_index",
})
_AMEND_FIELDS = frozenset({
    "ticker", "side", "price", "count", "client_order_id", "updated_client_order_id",
    "expiration_time", "exchange_index",
})
_DECREASE_FIELDS = frozenset({"reduce_by", "reduce_to", "exchange_index", "market_ticker"})
_CANCEL_ITEM_FIELDS = frozenset({"order_id", "subaccount", "exchange_index", "market_ticker"})
_GROUP_FIELDS = frozenset({"contracts_limit", "contracts_limit_fp", "subaccount", "exchange_index"})


class Fields:
    """Typed, strict access to one JSON object of a request."""

    def __init__(self, obj: Any, allowed: frozenset[str], what: str) -> None:
        if not isinstance(obj, dict):
            raise invalid(f"{what} must be a JSON object")
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise invalid(f"unknown field(s) in {what}: {', '.join(unknown)}")
        self._obj: dict[str, Any] = obj
        self._what = what

    def bad(self, message: str) -> ApiError:
        return invalid(f"{self._what}: {message}")

    def has(self, name: str) -> bool:
        return self._obj.get(name) is not None

    def text(self, name: str) -> str | None:
        value = self._obj.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.bad(f"{name} must be a string")
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise self.bad(f"{name} is required")
        if not value:
            raise self.bad(f"{name} must not be empty")
        return value

    def flag(self, name: str) -> bool:
        value = self._obj.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.bad(f"{name} must be a boolean")
        return value

    def integer(self, name: str) -> int | None:
        value = self._obj.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(f"{name} must be an integer")
        return value

    def choice(self, name: str, enum: type[E]) -> E:
        raw = self.required_text(name)
        try:
            return enum(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise self.bad(f"{name} must be one of {allowed}; got {raw!r}") from None

    def count(self, name: str) -> Count | None:
        raw = self.text(name)
        return None if raw is None else self._fixed(name, raw, parse_count, _COUNT_SHAPE)

    def required_count(self, name: str) -> Count:
        return self._fixed(name, self.required_text(name), parse_count, _COUNT_SHAPE)

    def price(self, name: str) -> Price:
        return self._fixed(name, self.required_text(name), parse_price, _PRICE_SHAPE)

    def _fixed(self, name: str, raw: str, parse: Callable[[str], int], shape: str) -> int:
        try:
            return parse(raw)
        except UnitError:
            raise self.bad(f"{name} must be {shape}; got {raw!r}") from None


def _check_account(fields: Fields) -> None:
    subaccount = fields.integer("subaccount")
    if subaccount not in (None, 0):
        raise fields.bad(f"subaccount {subaccount} does not exist (only 0, the primary account)")
    index = fields.integer("exchange_index")
    if index not in (None, 0, -1):
        raise fields.bad(f"exchange_index {index} does not exist (only 0, or -1 to auto-route)")


def check_account_query(query: Query) -> None:
    """``subaccount`` / ``exchange_index`` query parameters: only the primary account exists."""
    subaccount = query.integer("subaccount")
    if subaccount not in (None, 0):
        raise invalid(f"subaccount {subaccount} does not exist (only 0, the primary account)")
    index = query.integer("exchange_index")
    if index not in (None, 0, -1):
        raise invalid(f"exchange_index {index} does not exist (only 0, or -1 to auto-route)")


def _client_order_id(fields: Fields, name: str) -> str:
    value = fields.text(name) or ""
    if value and not CLIENT_ORDER_ID.fullmatch(value):
        raise fields.bad(f"{name} must be 1-64 characters of [A-Za-z0-9_-:+=/]; got {value!r}")
    return value


def _positive_count(fields: Fields, name: str) -> Count:
    count = fields.required_count(name)
    if count <= 0:
        raise fields.bad(f"{name} must be positive")
    return count


def parse_create_order(obj: Any, what: str = "order") -> CreateOrder:
    fields = Fields(obj, _CREATE_FIELDS, what)
    _check_account(fields)
    time_in_force = fields.choice("time_in_force", TimeInForce)
    expiration_s = fields.integer("expiration_time")
    if expiration_s is not None and time_in_force is not TimeInForce.GTC:
        raise fields.bad("expiration_time is only allowed with time_in_force good_till_canceled")
    if expiration_s is not None and expiration_s <= 0:
        raise fields.bad("expiration_time must be a positive Unix time in seconds")
    return CreateOrder(
        ticker=fields.required_text("ticker"),
        side=fields.choice("side", Side),
        price=fields.price("price"),
        count=_positive_count(fields, "count"),
        time_in_force=time_in_force,
        self_trade_prevention=fields.choice("self_trade_prevention_type", SelfTradePrevention),
        client_order_id=_client_order_id(fields, "client_order_id"),
        post_only=fields.flag("post_only"),
        reduce_only=fields.flag("reduce_only"),
        cancel_order_on_pause=fields.flag("cancel_order_on_pause"),
        expiration_s=expiration_s,
        order_group_id=fields.text("order_group_id") or "",
    )


def _batch_list(obj: Mapping[str, Any], what: str) -> list[Any]:
    unknown = sorted(set(obj) - {"orders"})
    if unknown:
        raise invalid(f"unknown field(s) in {what}: {', '.join(unknown)}")
    items = obj.get("orders")
    if not isinstance(items, list) or not items:
        raise invalid(f"{what} needs a non-empty list 'orders'")
    return items


@dataclass(frozen=True, slots=True)
class BatchCreateItem:
    client_order_id: str
    order: CreateOrder | None
    error: ApiError | None


def parse_batch_create(obj: Mapping[str, Any]) -> list[BatchCreateItem]:
    """Each item parsed on its own: a bad item carries its error, the others go through."""
    out: list[BatchCreateItem] = []
    for index, item in enumerate(_batch_list(obj, "batch create")):
        raw_id = item.get("client_order_id") if isinstance(item, dict) else None
        client_order_id = raw_id if isinstance(raw_id, str) else ""
        try:
            order = parse_create_order(item, f"orders[{index}]")
        except ApiError as exc:
            out.append(BatchCreateItem(client_order_id, None, exc))
        else:
            out.append(BatchCreateItem(client_order_id, order, None))
    return out


@dataclass(frozen=True, slots=True)
class BatchCancelItem:
    order_id: str
    error: ApiError | None


def parse_batch_cancel(obj: Mapping[str, Any]) -> list[BatchCancelItem]:
    out: list[BatchCancelItem] = []
    for index, item in enumerate(_batch_list(obj, "batch cancel")):
        raw_id = item.get("order_id") if isinstance(item, dict) else None
        order_id = raw_id if isinstance(raw_id, str) else ""
        try:
            fields = Fields(item, _CANCEL_ITEM_FIELDS, f"orders[{index}]")
            _check_account(fields)
            order_id = fields.required_text("order_id")
        except ApiError as exc:
            out.append(BatchCancelItem(order_id, exc))
        else:
            out.append(BatchCancelItem(order_id, None))
    return out


def batch_item_count(obj: Any) -> int:
    """How many items a batch body bills for (1 when it is not a batch at all)."""
    items = obj.get("orders") if isinstance(obj, dict) else None
    return len(items) if isinstance(items, list) and items else 1


@dataclass(frozen=True, slots=True)
class Amend:
    ticker: str
    side: Side
    price: Price
    count: Count  # new total: filled + desired remaining
    client_order_id: str
    updated_client_order_id: str
    expiration_s: int | None = None  # None: the order keeps its expiry


def parse_amend(obj: Any) -> Amend:
    fields = Fields(obj, _AMEND_FIELDS, "amend request")
    _check_account(fields)
    expiration_s = fields.integer("expiration_time")
    if expiration_s is not None and expiration_s <= 0:
        raise fields.bad("expiration_time must be a positive Unix time in seconds")
    return Amend(
        ticker=fields.required_text("ticker"),
        side=fields.choice("side", Side),
        price=fields.price("price"),
        count=_positive_count(fields, "count"),
        client_order_id=_client_order_id(fields, "client_order_id"),
        updated_client_order_id=_client_order_id(fields, "updated_client_order_id"),
        expiration_s=expiration_s,
    )


def parse_decrease(obj: Any) -> tuple[Count | None, Count | None]:
    """(reduce_by, reduce_to): exactly one is given."""
    fields = Fields(obj, _DECREASE_FIELDS, "decrease request")
    _check_account(fields)
    reduce_by = fields.count("reduce_by")
    reduce_to = fields.count("reduce_to")
    if (reduce_by is None) == (reduce_to is None):
        raise invalid("give exactly one of reduce_by and reduce_to")
    if reduce_by is not None and reduce_by <= 0:
        raise invalid("reduce_by must be positive")
    if reduce_to is not None and reduce_to < 0:
        raise invalid("reduce_to must not be negative")
    return reduce_by, reduce_to


def parse_contracts_limit(obj: Any, what: str) -> Count:
    """``contracts_limit`` (whole contracts) or ``contracts_limit_fp``; both must agree."""
    fields = Fields(obj, _GROUP_FIELDS, what)
    _check_account(fields)
    whole = fields.integer("contracts_limit")
    fixed = fields.count("contracts_limit_fp")
    if whole is None and fixed is None:
        raise invalid("contracts_limit or contracts_limit_fp is required")
    limit = fixed if fixed is not None else whole * 100 if whole is not None else 0
    if whole is not None and whole * 100 != limit:
        raise invalid("contracts_limit and contracts_limit_fp disagree")
    if limit <= 0:
        raise invalid("contracts_limit must be at least 1")
    return limit
