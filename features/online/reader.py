"""Reading a feature service's latest values for named contacts from our online store.

A service's features are what its Feast `FeatureService` projects (read once per reader,
through Feast's public API): the same contract training's point-in-time sets are built from.
The answer has one row per contact asked, in the order asked, with the snapshot time the
values were computed at; a contact never stored has null features and a null time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import polars as pl

from crm_core.errors import CrmError
from features.online import open_online_store
from features.online.layout import OnlineLayout, OnlineLayoutError
from features.online.store import OnlineStore
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.store import service_feature_names

if TYPE_CHECKING:
    from feast import FeatureStore


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


class StoreReader:
    """Holds the store of the home's current layout. A build can change the layout (a model
    now takes a custom field) and the services: a change of the snapshot file or of Feast's
    registry (the build writes one, then the other) is noticed on the next read, and the
    layout, the store and the services are read again."""

    def __init__(self, settings: FeatureSettings, feature_store: FeatureStore) -> None:
        self._settings = settings
        self._feature_store = feature_store
        self._stamp: tuple[int | None, int | None] | None = None
        self._layout = OnlineLayout.of_schema()
        self._store: OnlineStore | None = None
        self._services: dict[str, tuple[list[str], pl.Schema]] = {}
        self._lock = threading.Lock()
        self._follow_build()

    def _follow_build(self) -> tuple[OnlineStore, OnlineLayout]:
        stamp = (_modified(self._settings.snapshot_path), _modified(self._settings.registry_path))
        held = self._store
        if held is not None and stamp == self._stamp:
            return held, self._layout
        with self._lock:
            if self._store is not None and stamp == self._stamp:
                return self._store, self._layout
            layout = OnlineLayout.of_snapshots(self._settings.snapshot_path)
            store = self._store
            if store is None or layout.version != self._layout.version:
                # the old store stays open for a read already holding it; it closes with the process
                store = open_online_store(self._settings, layout)
            if self._stamp is not None:
                self._feature_store.refresh_registry()  # type: ignore[no-untyped-call]  # Feast's public call, untyped
            self._services = {}
            self._store, self._layout, self._stamp = store, layout, stamp
            return store, layout

    def _features_of(self, service_name: str, layout: OnlineLayout) -> tuple[list[str], pl.Schema]:
        """The service's features and the frame schema they are read into."""
        known = self._services.get(service_name)
        if known is not None:
            return known
        names = service_feature_names(self._feature_store, service_name)
        unstored = [name for name in names if name not in layout.features]
        if unstored:
            raise OnlineStoreUnavailableError(
                f"the online store holds no {', '.join(unstored)}: run `crm-intel build-features`"
            )
        dtypes = dict(zip(names, layout.dtypes(names), strict=True))
        schema = pl.Schema({ENTITY_KEY: pl.Int64(), **dtypes, EVENT_TIMESTAMP: pl.Datetime("us")})
        self._services[service_name] = (names, schema)
        return names, schema

    def read(self, service_name: str, contact_ids: Sequence[int]) -> pl.DataFrame:
        store, layout = self._follow_build()
        wanted, schema = self._features_of(service_name, layout)
        ids = [int(contact_id) for contact_id in contact_ids]
        unreadable: tuple[type[Exception], ...] = (*store.errors(), OnlineLayoutError)
        try:
            stored = list(store.read(ids).items())
            values = layout.decode_rows([row.features for _, row in stored], wanted)
        except unreadable as error:
            raise OnlineStoreUnavailableError(f"the online store could not be read ({type(error).__name__})") from error
        # Row-oriented: one constructor for the few rows a request reads, instead of a Series
        # per feature (most of a one-contact read's time).
        rows = [(contact_id, *found, row.as_of) for (contact_id, row), found in zip(stored, values, strict=True)]
        frame = pl.DataFrame(rows, schema=schema, orient="row")
        if frame[ENTITY_KEY].to_list() == ids:
            return frame
        # Repeats, and contacts never stored (a row of nulls each), in the order asked.
        order = pl.DataFrame({ENTITY_KEY: ids}, schema={ENTITY_KEY: pl.Int64})
        return order.join(frame, on=ENTITY_KEY, how="left", maintain_order="left")

    def probe(self) -> None:
        store, _layout = self._follow_build()
        try:
            store.ping()
        except store.errors() as error:
            raise OnlineStoreUnavailableError(f"the online store could not be read ({error})") from error


def _modified(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def open_online_reader(settings: FeatureSettings, feature_store: FeatureStore) -> OnlineReader:
    """A reader held for a serving worker's life (its store connections with it)."""
    return StoreReader(settings, feature_store)
