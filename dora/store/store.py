"""DynamoDB persistence: market configs, global flags, versioned bot state and the log tables.

Table shapes: :mod:`dora.store.tables`; item shapes: :mod:`dora.store.items`; optimistic locking:
:mod:`dora.store.versioned`. botocore errors become StoreError / StaleWriteError here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.config import Config
from botocore.exceptions import ClientError

from dora.core.breaker import Breaker
from dora.core.calibration import CalibrationReport
from dora.core.errors import StoreError
from dora.core.ledger import CashView
from dora.core.models import Balance, Fill, PositionState, RestingOrder, RiskState, TsMs
from dora.core.session import SessionCash, SessionStart
from dora.core.shards import ShardId
from dora.core.timefmt import iso_ms, utc_date
from dora.core.units import Micros
from dora.runtime.clock import Clock
from dora.runtime.deadline import TimeLeft
from dora.store.budget import BoundedResources, ResourceFactory, WaitMeter
from dora.store.codec import expires_at, from_wire_item, to_item, to_wire_item
from dora.store.items import (
    API_ERRORS,
    BALANCE,
    CALIBRATION,
    GLOBAL_CONFIG,
    OPEN_ORDERS,
    POSITIONS,
    RECENT_FILLS,
    RISK_STATE,
    VERSIONED_KEYS,
    ApiErrorRecord,
    ShardFigures,
    balance_body,
    open_orders_body,
    parse_positions,
    parse_recent_fills,
    parse_risk,
    parse_shard_figures,
    positions_body,
    recent_fills_body,
    risk_body,
    trade_row,
)
from dora.store.lease import LeaseStore
from dora.store.lifecycle_items import (
    api_errors_body,
    calibration_body,
    parse_api_errors,
    with_breaker_reset,
)
from dora.store.log_items import BOOK_MARK_ATTRIBUTES
from dora.store.paging import Paging
from dora.store.tables import (
    DECISION_LOG,
    EXECUTION_LOG,
    EXECUTION_SORT_KEY,
    MARKET_CONFIG,
    STATE,
    TABLES,
    TRADE_LOG,
    TRADE_SORT_KEY,
    TTL_ATTRIBUTE,
    create_tables,
    error_code,
    make_dynamodb_resource,
    store_boundary,
    table_names,
)
from dora.store.versioned import Fence, VersionedItems

__all__ = [
    "LOG_BATCH_ITEMS",
    "TABLES",
    "ApiErrorRecord",
    "LogItemsRefused",
    "OperatorItems",
    "ShardFigures",
    "Store",
    "StoredState",
    "connect_store",
    "dynamodb_variants",
    "make_dynamodb_resource",
    "table_names",
]

DEFAULT_LOG_TTL_DAYS = 30
LOG_BATCH_ITEMS = 25  # BatchWriteItem's most items per request
# DynamoDB refuses these items as they are: sending them again cannot help
_REFUSED_CODES = frozenset({"ValidationException", "SerializationException",
                            "ItemCollectionSizeLimitExceededException"})


class LogItemsRefused(StoreError):
    """DynamoDB refused a batch of log-table items as malformed; retrying cannot help."""
# The state items that grow with the markets, and the map each is paged on when it outgrows one
# DynamoDB item (dora.store.paging). Only the display item may leave entries out.
OPEN_ORDERS_PAGING = Paging("orders", may_leave_out=True)
POSITIONS_PAGING = Paging("positions")
RECENT_FILLS_PAGING = Paging("fills")
API_ERRORS_PAGING = Paging("errors")


def dynamodb_variants(endpoint_url: str | None, region: str) -> ResourceFactory:
    """Resources like ``make_dynamodb_resource(endpoint_url, region)`` with another config: what a
    store needs to fit calls under a stop budget (:mod:`dora.store.budget`)."""
    def variant(config: Config) -> Any:
        return make_dynamodb_resource(endpoint_url, region, config=config)

    return variant


def connect_store(endpoint_url: str | None, region: str, env: str, clock: Clock) -> Store:
    """The store as the bot uses it: its resource, and variants for calls under a stop budget."""
    return Store(make_dynamodb_resource(endpoint_url, region), env, clock,
                 variants=dynamodb_variants(endpoint_url, region))


@dataclass(frozen=True, slots=True)
class StoredState:
    positions: dict[str, PositionState]
    risk: RiskState
    versions: dict[str, int]
    recent_fills: dict[str, TsMs] = field(default_factory=dict)  # fill_id -> fill time
    api_errors: dict[str, ApiErrorRecord] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OperatorItems:
    """What operators change while the bot runs, read together once a cycle. ``risk`` and
    ``breakers`` are None unless someone other than this process wrote them since it last read
    or wrote them."""

    risk: RiskState | None
    global_config: dict[str, Any] | None
    breakers: dict[str, Breaker] | None


class Store:
    def __init__(
        self, resource: Any, env: str, clock: Clock, *, log_ttl_days: int = DEFAULT_LOG_TTL_DAYS,
        variants: ResourceFactory | None = None, shard: ShardId | None = None,
    ) -> None:
        """``variants`` builds resources like ``resource`` with another botocore config; with it,
        calls under a stop budget get timeouts that fit (:mod:`dora.store.budget`). ``shard``:
        whose state items this store reads and writes (one of several shards: their keys carry
        the shard, docs/compatibility.md#state-items)."""
        if log_ttl_days <= 0:
            raise ValueError(f"log_ttl_days must be positive, got {log_ttl_days}")
        self.env = env
        self.names = table_names(env)
        self._meter = WaitMeter(clock)
        self._resources = BoundedResources(resource, variants, self._meter)
        self._clock = clock
        self._ttl_days = log_ttl_days
        self._state = VersionedItems(self._resources.now, self.names[STATE], clock)
        self.shard = shard or ShardId(0, 1)
        self.leases = LeaseStore(self._resources.now, self.names[STATE])
        self._sequence = itertools.count()
        self._last_stamp_us = 0

    @property
    def versions(self) -> dict[str, int]:
        """The version of each state item as this store last read or wrote it."""
        return self._state.versions

    def bound_by(self, budget: TimeLeft | None) -> None:
        """Fit every later call into ``budget`` (a stop budget)."""
        self._resources.bound_by(budget)

    def take_wait_ms(self) -> int:
        """How long the calling thread waited for DynamoDB's answers since it last asked."""
        return self._meter.take_ms()

    def use_shard(self, shard: ShardId) -> None:
        """Read and write ``shard``'s state items from now on."""
        self.shard = shard

    def fence_with(self, fence: Fence | None) -> None:
        """Every later state write also checks the shard lease (:mod:`dora.store.versioned`)."""
        self._state.fence_with(fence)

    def state_key(self, base: str, shard: ShardId | None = None) -> str:
        """The key of a per-shard state item (``positions``, ``risk_state`` ...)."""
        return base + (shard or self.shard).item_suffix

    def _table(self, base: str) -> Any:
        return self._resources.now().Table(self.names[base])

    def create_tables(self) -> list[str]:
        return create_tables(self._resources.default.meta.client, self.names, self._clock)

    # -- market configs and global flags ----------------------------------------------------------
    def load_market_config_items(self, *, page_size: int | None = None) -> list[dict[str, Any]]:
        """Every config item, following LastEvaluatedKey across pages."""
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        if page_size is not None:
            kwargs["Limit"] = page_size
        items: list[dict[str, Any]] = []
        with store_boundary("scan market configs"):
            while True:
                response = self._table(MARKET_CONFIG).scan(**kwargs)
                items.extend(dict(item) for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    return items
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_market_config_item(self, market_id: str) -> dict[str, Any] | None:
        with store_boundary(f"read market config {market_id}"):
            response = self._table(MARKET_CONFIG).get_item(
                Key={"market_id": market_id}, ConsistentRead=True
            )
        item = response.get("Item")
        return dict(item) if item else None

    def put_market_config_item(self, item: Mapping[str, Any]) -> None:
        market_id = item.get("market_id")
        if not isinstance(market_id, str) or not market_id:
            raise ValueError("a market config item needs a non-empty market_id")
        with store_boundary(f"write market config {market_id}"):
            self._table(MARKET_CONFIG).put_item(Item=to_item(item))

    def load_global_config_item(self) -> dict[str, Any] | None:
        item = self._state.get(GLOBAL_CONFIG)
        if item is None:
            return None
        return {k: v for k, v in item.items() if k != "key"}

    def set_global_fields(self, fields: Mapping[str, Any]) -> None:
        """Set some global config keys with one UpdateItem; every other key is kept."""
        if not fields:
            return
        if any(not name or name == "key" for name in fields):
            raise ValueError(f"invalid global config key in {sorted(fields)}")
        values = to_item(fields)
        names = {f"#f{i}": name for i, name in enumerate(values)}
        placeholders = {f":v{i}": value for i, value in enumerate(values.values())}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        with store_boundary("update global config"):
            self._table(STATE).update_item(
                Key={"key": GLOBAL_CONFIG},
                UpdateExpression=f"SET {assignments}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=placeholders,
            )

    # -- versioned state --------------------------------------------------------------------------
    def load_state(self) -> StoredState:
        """Positions, risk state and recently seen fills (defaults when absent); refreshes the
        versions every later state write is conditional on."""
        keys = {base: self.state_key(base) for base in VERSIONED_KEYS}
        items = self._state.read(list(keys.values()))
        errors, breakers = parse_api_errors(items[keys[API_ERRORS]])
        return StoredState(
            positions=parse_positions(items[keys[POSITIONS]]),
            risk=parse_risk(items[keys[RISK_STATE]]),
            versions=self._state.versions,
            recent_fills=parse_recent_fills(items[keys[RECENT_FILLS]]),
            api_errors=errors,
            breakers=breakers,
        )

    def reload_operator_items(self) -> OperatorItems:
        """``risk_state``, ``global_config`` and ``api_errors`` in one consistent batch read:
        an operator's halt, flags and breaker resets reach the bot within a cycle."""
        risk_key, errors_key = self.state_key(RISK_STATE), self.state_key(API_ERRORS)
        before = self._state.versions
        items = self._state.read([risk_key, GLOBAL_CONFIG, errors_key])
        after = self._state.versions

        def changed(key: str) -> bool:
            return key in before and before[key] != after[key]

        global_item = items[GLOBAL_CONFIG]
        return OperatorItems(
            risk=parse_risk(items[risk_key]) if changed(risk_key) else None,
            global_config=None if global_item is None else {
                k: v for k, v in global_item.items() if k not in ("key", "version")},
            breakers=parse_api_errors(items[errors_key])[1] if changed(errors_key) else None,
        )

    def reload_risk_state(self) -> RiskState | None:
        """``risk_state`` as stored now when someone else (an operator's ``dora halt`` or
        ``resume``) wrote it since this process last read or wrote it; None when nobody did.
        Only its remembered version moves: another writer's change to positions or recent fills
        is still refused at the next write."""
        key = self.state_key(RISK_STATE)
        before = self._state.versions.get(key)
        item = self._state.read([key])[key]
        if before is not None and self._state.versions.get(key) == before:
            return None
        return parse_risk(item)

    def load_operator_halt(self) -> RiskState:
        """The operator's halt for every shard (``dora halt``): the unsuffixed ``risk_state``.
        With a single shard it is the bot's own item (read it with :meth:`reload_risk_state`)."""
        return parse_risk(self._state.get(RISK_STATE))

    def load_peer_figures(self, peers: Sequence[ShardId]) -> dict[ShardId, ShardFigures]:
        """The exposure and P&L the other shards of this layout last saved (for the global
        limits); a shard that never saved is left out."""
        keys = {self.state_key(RISK_STATE, peer): peer for peer in peers}
        if not keys:
            return {}
        found = self._state.peek(list(keys))
        return {keys[k]: parse_shard_figures(item) for k, item in found.items()}

    def get_state_item(self, key: str) -> dict[str, Any] | None:
        """The raw ``dora_state`` item, for display (does not change the remembered version)."""
        return self._state.get(key)

    def save_positions(self, positions: Mapping[str, PositionState]) -> None:
        self._state.put(self.state_key(POSITIONS), positions_body(positions, self._clock.now_ms()))

    def save_risk_state(self, risk: RiskState, shard: ShardId | None = None) -> None:
        """The risk state (an operator's halt: of ``shard``, or of this store's shard)."""
        self._state.put(self.state_key(RISK_STATE, shard), risk_body(risk, self._clock.now_ms()))

    def save_snapshot(
        self,
        positions: Mapping[str, PositionState],
        risk: RiskState,
        recent_fills: Mapping[str, TsMs],
        figures: ShardFigures | None = None,
    ) -> None:
        """Positions, risk state and the fill ids they include, in one transaction: a restart
        can never see positions that count a fill its dedupe set does not know. ``figures``:
        this shard's exposure and unrealized P&L, which the other shards add to theirs."""
        now = self._clock.now_ms()
        self._state.put_together({
            self.state_key(POSITIONS): positions_body(positions, now),
            self.state_key(RISK_STATE): risk_body(risk, now, figures),
            self.state_key(RECENT_FILLS): recent_fills_body(recent_fills, now),
        }, {self.state_key(POSITIONS): POSITIONS_PAGING,
            self.state_key(RECENT_FILLS): RECENT_FILLS_PAGING})

    def save_open_orders(
        self, orders: Sequence[RestingOrder], decision_ids: Mapping[str, str]
    ) -> int:
        """The resting orders, for display (the dashboard, ``dora status``): paged when they
        outgrow one item, and past the most pages allowed the rest left out and counted in the
        item (``left_out``). Returns how many were left out."""
        return self._state.put(self.state_key(OPEN_ORDERS),
                               open_orders_body(orders, decision_ids, self._clock.now_ms()),
                               OPEN_ORDERS_PAGING)

    def save_balance(self, balance: Balance, cash: CashView | None = None) -> None:
        self._state.put(self.state_key(BALANCE),
                        balance_body(balance, self._clock.now_ms(), cash))

    def save_api_errors(
        self, errors: Mapping[str, ApiErrorRecord], breakers: Mapping[str, Breaker] | None = None
    ) -> None:
        self._state.put(self.state_key(API_ERRORS),
                        api_errors_body(errors, breakers or {}, self._clock.now_ms()),
                        API_ERRORS_PAGING)

    def save_calibration(
        self, report: CalibrationReport | None, session: SessionStart | None,
        cash: SessionCash, last_sync: Mapping[str, TsMs],
    ) -> None:
        body = calibration_body(report, session, cash, last_sync, self._clock.now_ms())
        self._state.put(self.state_key(CALIBRATION), body)

    def request_breaker_reset(self, ticker: str) -> None:
        """An operator closes ``ticker``'s breaker (a versioned write of ``api_errors``; the
        running bot adopts it within a cycle). Raises StaleWriteError if the bot wrote the item
        between this read and write: read and try again."""
        key = self.state_key(API_ERRORS)
        item = self._state.read([key])[key]
        self._state.put(key, with_breaker_reset(item, ticker, self._clock.now_ms()),
                        API_ERRORS_PAGING)

    # -- log tables -------------------------------------------------------------------------------
    def record_fills(self, fills: Sequence[tuple[Fill, Micros]]) -> int:
        """One trade-log row per fill; a fill already logged is skipped. Returns rows written."""
        written = 0
        for fill, realized in fills:
            with store_boundary(f"log fill {fill.fill_id}"):
                try:
                    self._table(TRADE_LOG).put_item(
                        Item=to_item(trade_row(fill, realized)),
                        ConditionExpression="attribute_not_exists(#sk)",
                        ExpressionAttributeNames={"#sk": TRADE_SORT_KEY},
                    )
                except ClientError as exc:
                    if error_code(exc) != "ConditionalCheckFailedException":
                        raise
                    continue
            written += 1
        return written

    def put_decision_record(self, record: Mapping[str, Any]) -> None:
        self.put_decision_records([record])

    def put_decision_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Decision-log items keyed by date and a unique timestamp, expiring after the TTL."""
        self._batch_put(DECISION_LOG, self.decision_items(records))

    def put_execution_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Execution-log items (``bot_run_id`` required), expiring after the TTL."""
        self._batch_put(EXECUTION_LOG, self.execution_items(events))

    def decision_items(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The decision-log items of ``records``, keyed and dated now (write them with
        :meth:`write_log_batch`, which encodes their values: the costly part, so the background
        writer does it off the loop's thread)."""
        return [self._decision_item(record) for record in records]

    def execution_items(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The execution-log items of ``events``, keyed and dated now."""
        return [self._execution_item(event) for event in events]

    def write_log_batch(
        self, base: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """At most :data:`LOG_BATCH_ITEMS` prepared log-table items in one BatchWriteItem;
        returns the items DynamoDB left unprocessed (send them again later). Safe to call from
        another thread than the loop's: only a low-level client is used (safe to share between
        threads); the items are encoded here, not by the resource layer
        (docs/aws-notes.md#log-writes). Raises LogItemsRefused for items DynamoDB refuses or
        cannot hold exactly."""
        if len(items) > LOG_BATCH_ITEMS:
            raise ValueError(f"at most {LOG_BATCH_ITEMS} items a batch, got {len(items)}")
        name = self.names[base]
        try:
            requests = [{"PutRequest": {"Item": to_wire_item(item)}} for item in items]
        except TypeError as exc:  # a value DynamoDB cannot hold exactly: a bug in the record
            raise LogItemsRefused(f"{len(items)} items for {name}: {exc}") from exc
        try:
            with store_boundary(f"write {len(items)} items to {name}"):
                client = self._resources.plain_now()
                response = client.batch_write_item(RequestItems={name: requests})
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and error_code(cause) in _REFUSED_CODES:
                raise LogItemsRefused(str(exc)) from cause
            raise
        unprocessed = response.get("UnprocessedItems", {}).get(name, [])
        return [from_wire_item(entry["PutRequest"]["Item"]) for entry in unprocessed]

    def trade_log_items(
        self, days: Sequence[str], *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every trade-log row of the given UTC days (the table's hash key), page by page."""
        for day in days:
            yield from self._query_day(TRADE_LOG, day, page_size, ())

    def decision_book_items(
        self, days: Sequence[str], *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The market, time and best bid/ask of every decision record of the given UTC days
        (only those attributes are read: the records are large)."""
        for day in days:
            yield from self._query_day(DECISION_LOG, day, page_size, BOOK_MARK_ATTRIBUTES)

    def _query_day(
        self, base: str, day: str, page_size: int | None, attributes: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("date").eq(day)}
        if page_size is not None:
            kwargs["Limit"] = page_size
        if attributes:
            kwargs.update(_projection(attributes))
        while True:
            with store_boundary(f"read {self.names[base]} for {day}"):
                response = self._table(base).query(**kwargs)
            yield from (dict(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _decision_item(self, record: Mapping[str, Any]) -> dict[str, Any]:
        now = self._clock.now_ms()
        stamp = iso_ms(now)
        market = str(record.get("market_id") or "")
        item = {k: v for k, v in record.items() if k != "market_id" or market}
        item.update({
            "date": utc_date(now),
            "timestamp": self._unique_naive_iso(now),
            "decided_at": stamp,
            TTL_ATTRIBUTE: expires_at(now, self._ttl_days),
        })
        return item

    def _unique_naive_iso(self, now_ms: TsMs) -> str:
        """The predecessor's sort key: a naive UTC ISO time (dashboards parse it as one), here
        with microseconds that never repeat in this process, so records cannot overwrite each
        other (a burst of more than 1,000 in one millisecond moves later ones forward by µs)."""
        micros = max(now_ms * 1000, self._last_stamp_us + 1)
        self._last_stamp_us = micros
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        return moment.replace(tzinfo=None).isoformat(timespec="microseconds")

    def _execution_item(self, event: Mapping[str, Any]) -> dict[str, Any]:
        run_id = event.get("bot_run_id")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError("an execution event needs a non-empty bot_run_id")
        now = self._clock.now_ms()
        event_ts = str(event.get("event_ts") or iso_ms(now))
        decision = str(event.get("decision_id") or "")
        item = {k: v for k, v in event.items() if k != "decision_id" or decision}
        item.update({
            "event_ts": event_ts,
            EXECUTION_SORT_KEY: f"{decision}#{event_ts}#{next(self._sequence):06d}",
            TTL_ATTRIBUTE: expires_at(now, self._ttl_days),
        })
        item.setdefault("env", self.env)
        return item

    def _batch_put(self, base: str, items: Sequence[Mapping[str, Any]]) -> None:
        if not items:
            return
        with store_boundary(f"write {len(items)} items to {self.names[base]}"), \
                self._table(base).batch_writer() as batch:
            for item in items:
                batch.put_item(Item=to_item(item))


def _projection(paths: Sequence[str]) -> dict[str, Any]:
    """A ProjectionExpression with every name behind a placeholder (``date`` and ``timestamp``
    are DynamoDB reserved words)."""
    names: dict[str, str] = {}
    expressions = []
    for path in paths:
        parts = []
        for name in path.split("."):
            placeholder = next((k for k, v in names.items() if v == name), f"#p{len(names)}")
            names[placeholder] = name
            parts.append(placeholder)
        expressions.append(".".join(parts))
    return {"ProjectionExpression": ", ".join(expressions), "ExpressionAttributeNames": names}
