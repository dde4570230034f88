"""Reading a feature service's latest values for named contacts from our online store.

A service's features are what its Feast `FeatureService` projects (read once per reader,
through Feast's public API): the same contract training's point-in-time sets are built from.
The answer has one row per contact asked, in the order asked, with the snapshot time the
values were computed at; a contact never stored has null features and a null time.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    def __init__(self, store: OnlineStore, feature_store: FeatureStore, layout: OnlineLayout) -> None:
        self._store = store
        self._feature_store = feature_store
        self._layout = layout
        self._services: dict[str, list[str]] = {}
        self._schemas: dict[str, pl.Schema] = {}

    def _features_of(self, service_name: str) -> list[str]:
        if service_name not in self._services:
            names = service_feature_names(self._feature_store, service_name)
            self._services[service_name] = names
            self._schemas[service_name] = pl.Schema(
                {
                    ENTITY_KEY: pl.Int64(),
                    **dict(zip(names, self._layout.dtypes(names), strict=True)),
                    EVENT_TIMESTAMP: pl.Datetime("us"),
                }
            )
        return self._services[service_name]

    def read(self, service_name: str, contact_ids: Sequence[int]) -> pl.DataFrame:
        wanted = self._features_of(service_name)
        ids = [int(contact_id) for contact_id in contact_ids]
        unreadable: tuple[type[Exception], ...] = (*self._store.errors(), OnlineLayoutError)
        try:
            stored = list(self._store.read(ids).items())
            values = self._layout.decode_rows([row.features for _, row in stored], wanted)
        except unreadable as error:
            raise OnlineStoreUnavailableError(f"the online store could not be read ({type(error).__name__})") from error
        # Row-oriented: one constructor for the few rows a request reads, instead of a Series
        # per feature (most of a one-contact read's time).
        rows = [(contact_id, *found, row.as_of) for (contact_id, row), found in zip(stored, values, strict=True)]
        frame = pl.DataFrame(rows, schema=self._schemas[service_name], orient="row")
        if frame[ENTITY_KEY].to_list() == ids:
            return frame
        # Repeats, and contacts never stored (a row of nulls each), in the order asked.
        order = pl.DataFrame({ENTITY_KEY: ids}, schema={ENTITY_KEY: pl.Int64})
        return order.join(frame, on=ENTITY_KEY, how="left", maintain_order="left")

    def probe(self) -> None:
        try:
            self._store.ping()
        except self._store.errors() as error:
            raise OnlineStoreUnavailableError(f"the online store could not be read ({error})") from error


def open_online_reader(settings: FeatureSettings, feature_store: FeatureStore) -> OnlineReader:
    """A reader held for a serving worker's life (its store connections with it)."""
    layout = OnlineLayout.of_schema()
    return StoreReader(open_online_store(settings, layout), feature_store, layout)
