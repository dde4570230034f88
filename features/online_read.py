"""Reading a feature service's online values straight from Feast's online tables.

`FeatureStore.get_online_features` spends about 3 ms of Python on a one-contact read (entity
protos, per-view bookkeeping, a response object converted to a dict): a third of an online
scoring request. The rows themselves are one indexed lookup away, in the layout
`features.online_format` already writes and checks against Feast's encoders. This reader asks
the store for exactly those rows, parses each value with Feast's own `ValueProto` (so there is
no second decoder to drift from Feast's), and returns the frame `features.store.online_features`
returns for the same contacts: the tests hold the two equal on SQLite and on Redis.

Readers are opened once per serving worker; a store other than SQLite or Redis falls back to
Feast's own path.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from crm_core.errors import CrmError
from features.online_format import FeastOnlineFormat, OnlineFormatError, redis_field
from features.online_refresh import ViewColumns, online_views
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.store import PROJECT, online_features

if TYPE_CHECKING:
    from feast import FeatureStore

# The feature types the CRM's views declare (see feature_repo); any other is refused, not guessed.
_SCALAR_TYPES = frozenset({"Float64", "Int64"})


class OnlineStoreUnavailableError(CrmError):
    """The online store cannot be read (a corrupted file, an unreachable server): scoring and
    readiness say so instead of failing with the driver's error."""


class OnlineReader(Protocol):
    def read(self, service_name: str, contact_ids: Sequence[int]) -> pl.DataFrame:
        """Latest online values of `service_name` for each contact, in the order given, with the
        time they were computed at (null, with null features, for a contact never stored)."""
        ...

    def probe(self) -> None:
        """Raise OnlineStoreUnavailableError unless the store answers a cheap read."""
        ...


@dataclass(frozen=True)
class ServiceRead:
    """The views a service reads, each with only the features the service asks of it."""

    views: tuple[ViewColumns, ...]

    @property
    def feature_names(self) -> list[str]:
        return [feature for view in self.views for feature in view.features]

    @property
    def columns(self) -> list[str]:
        return [ENTITY_KEY, *self.feature_names, EVENT_TIMESTAMP]


def describe_service(store: FeatureStore, service_name: str) -> ServiceRead:
    """The service's views as the refresh writes them, narrowed to the features it projects."""
    tables = {view.name: view for view in online_views(store)}
    reads: list[ViewColumns] = []
    for projection in store.get_feature_service(service_name).feature_view_projections:
        for feature in projection.features:
            if str(feature.dtype) not in _SCALAR_TYPES:
                raise OnlineFormatError(f"no direct online read for {feature.name} of type {feature.dtype}")
        requested = tuple(feature.name for feature in projection.features)
        reads.append(replace(tables[projection.name], features=requested))
    return ServiceRead(tuple(reads))


def _value(serialized: bytes | None) -> Any:
    """A Feast ValueProto's payload as a Python scalar; an empty or missing message is null."""
    if not serialized:
        return None
    from feast.protos.feast.types.Value_pb2 import Value

    parsed = Value.FromString(serialized)
    kind = parsed.WhichOneof("val")
    return None if kind is None else getattr(parsed, kind)


class _DirectReader:
    """The shape both stores share: per contact, {feature: value} and the newest view time."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store
        self.layout = FeastOnlineFormat.probe(PROJECT, store.config.entity_key_serialization_version)
        self._services: dict[str, ServiceRead] = {}

    def _service(self, service_name: str) -> ServiceRead:
        if service_name not in self._services:
            self._services[service_name] = describe_service(self._store, service_name)
        return self._services[service_name]

    def read(self, service_name: str, contact_ids: Sequence[int]) -> pl.DataFrame:
        service = self._service(service_name)
        try:
            found = self._fetch(service, list(contact_ids))
        except self._store_errors() as error:
            raise OnlineStoreUnavailableError(f"the online store could not be read ({type(error).__name__})") from error
        names = service.feature_names
        rows = []
        for contact_id in contact_ids:
            values, newest = found.get(contact_id, ({}, None))
            rows.append((contact_id, *[values.get(name) for name in names], newest))
        # Row-oriented: one constructor parses every value in Rust, five times faster for an
        # online request's few rows than building forty-odd column Series. Types are inferred
        # from the values, as `online_features` infers them from Feast's (a declared schema
        # costs polars twice the time in dtype checks): int64 stays Int64, doubles Float64, and
        # a column with no value at all is Null in both.
        return pl.DataFrame(rows, schema=service.columns, orient="row", infer_schema_length=None)

    def _fetch(self, service: ServiceRead, contact_ids: list[int]) -> dict[int, tuple[dict[str, Any], datetime | None]]:
        raise NotImplementedError

    def _store_errors(self) -> tuple[type[Exception], ...]:
        raise NotImplementedError

    def _ping(self) -> None:
        raise NotImplementedError

    def probe(self) -> None:
        try:
            self._ping()
        except self._store_errors() as error:
            raise OnlineStoreUnavailableError(f"the online store could not be read ({error})") from error


class SqliteOnlineReader(_DirectReader):
    """Feast's SQLite layout: one row per (entity key, feature) in each view's table, the event
    time as the epoch seconds of the naive UTC time (see `online_format.sqlite_timestamp`)."""

    def __init__(self, store: FeatureStore, path: Path) -> None:
        super().__init__(store)
        self._path = path
        # serving answers on a thread pool: a connection per thread, never shared
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection | None:
        """This thread's read-only connection; None while the store has no file yet. A file
        replaced underneath (a restore) is noticed by its inode and opened afresh."""
        try:
            identity = os.stat(self._path).st_ino
        except FileNotFoundError:
            return None
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == identity:
            return held[1]
        if held is not None:
            held[1].close()
        connection = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, isolation_level=None)
        self._local.held = (identity, connection)
        return connection

    def _store_errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.DatabaseError,)

    def _ping(self) -> None:
        """Read the schema and one row of every table through a fresh connection: a file that
        is not a database, or whose pages are damaged where the tables start, fails here (a
        held connection could answer from pages it cached before the damage)."""
        if not self._path.exists():
            return  # nothing built yet: a state, not a fault (contacts answer "not ready")
        connection = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, isolation_level=None)
        try:
            tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                quoted = table.replace('"', '""')
                connection.execute(f'SELECT * FROM "{quoted}" LIMIT 1').fetchall()
        finally:
            connection.close()

    def _fetch(self, service: ServiceRead, contact_ids: list[int]) -> dict[int, tuple[dict[str, Any], datetime | None]]:
        keys = {self.layout.entity_key(contact_id): contact_id for contact_id in contact_ids}
        marks = ",".join("?" * len(keys))
        # Table names come from Feast's registry (compute_table_id), never from a request.
        query = " UNION ALL ".join(
            f'SELECT entity_key, feature_name, value, event_ts, {position} FROM "{view.table}" '
            f"WHERE entity_key IN ({marks})"
            for position, view in enumerate(service.views)
        )
        wanted = [set(view.features) for view in service.views]
        connection = self._connection()
        if connection is None:
            return {}  # nothing built yet: every contact is "not ready"
        try:
            rows = connection.execute(query, list(keys) * len(wanted)).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return {}  # the views are registered but were never refreshed into this file
            raise
        values: dict[int, dict[str, Any]] = {}
        newest: dict[int, int] = {}
        for key, feature, value, event_ts, position in rows:
            if feature not in wanted[position]:
                continue
            contact_id = keys[bytes(key)]
            values.setdefault(contact_id, {})[feature] = _value(value)
            newest[contact_id] = max(newest.get(contact_id, event_ts), event_ts)
        # Feast reads the stored seconds back as a local time and calls it UTC; so do we.
        return {contact_id: (found, datetime.fromtimestamp(newest[contact_id])) for contact_id, found in values.items()}


class RedisOnlineReader(_DirectReader):
    """Feast's Redis layout: one hash per contact holding every view's values under murmur3
    field names and a `_ts:<view>` timestamp per view; one pipelined HMGET per contact."""

    def __init__(self, store: FeatureStore, connection_string: str) -> None:
        import redis

        from features.online_redis import connection_options

        super().__init__(store)
        self._client = redis.Redis(**connection_options(connection_string))
        self._fields: dict[str, list[tuple[int, str | None, bytes]]] = {}

    def _store_errors(self) -> tuple[type[Exception], ...]:
        import redis

        return (redis.RedisError,)

    def _ping(self) -> None:
        self._client.ping()

    def _service_fields(self, service: ServiceRead) -> list[tuple[int, str | None, bytes]]:
        """(view position, feature or None for the view's timestamp, hash field) per field read."""
        key = ",".join(view.name for view in service.views)
        if key not in self._fields:
            fields: list[tuple[int, str | None, bytes]] = []
            for position, view in enumerate(service.views):
                fields.append((position, None, f"_ts:{view.name}".encode()))
                fields.extend((position, feature, redis_field(view.name, feature)) for feature in view.features)
            self._fields[key] = fields
        return self._fields[key]

    def _fetch(self, service: ServiceRead, contact_ids: list[int]) -> dict[int, tuple[dict[str, Any], datetime | None]]:
        from google.protobuf.timestamp_pb2 import Timestamp

        fields = self._service_fields(service)
        names = [field for _, _, field in fields]
        project = self.layout.project.encode()  # Feast's hash name: entity key, then project
        keys = [self.layout.entity_key(contact_id) + project for contact_id in contact_ids]
        with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, names)  # type: ignore[arg-type]  # redis-py takes bytes keys; its stubs say str
            replies: list[list[bytes | None]] = pipe.execute()
        found: dict[int, tuple[dict[str, Any], datetime | None]] = {}
        for contact_id, reply in zip(contact_ids, replies, strict=True):
            if not any(reply):
                continue  # no hash: never stored, or erased
            values: dict[str, Any] = {}
            newest: datetime | None = None
            for (_, feature, _), raw in zip(fields, reply, strict=True):
                if feature is not None:
                    values[feature] = _value(raw)
                elif raw:
                    stamp = Timestamp.FromString(raw).ToDatetime(tzinfo=UTC).replace(tzinfo=None)
                    newest = stamp if newest is None or stamp > newest else newest
            found[contact_id] = (values, newest)
        return found


class FeastOnlineReader:
    """Any other online store: Feast's own path."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store

    def read(self, service_name: str, contact_ids: Sequence[int]) -> pl.DataFrame:
        return online_features(self._store, service_name, list(contact_ids))

    def probe(self) -> None:
        """Feast's own path has no cheap read to try; its reads fail loudly on their own."""


def open_online_reader(store: FeatureStore) -> OnlineReader:
    from feast.infra.online_stores.redis import RedisOnlineStoreConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

    online = store.config.online_store
    if store.config.registry.enable_online_feature_view_versioning:
        return FeastOnlineReader(store)
    if isinstance(online, SqliteOnlineStoreConfig):
        return SqliteOnlineReader(store, Path(store.config.repo_path or ".") / online.path)
    if isinstance(online, RedisOnlineStoreConfig):
        return RedisOnlineReader(store, online.connection_string)
    return FeastOnlineReader(store)
