"""The peer's read: Feast's `get_online_features`, over a store Feast's `materialize` filled.

Our product never reads Feast's online store (see `features.online`); the benchmarks and the
tests that hold our online values equal to Feast's use this to ask Feast the same question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from features.schema import ENTITY_KEY, EVENT_TIMESTAMP

if TYPE_CHECKING:
    from feast import FeatureStore


def feast_online_features(store: FeatureStore, service_name: str, contact_ids: list[int]) -> pl.DataFrame:
    """Feast's latest values per contact (null for one it never stored) and their newest event
    time, typed as the contact schema types them."""
    response = store.get_online_features(
        features=store.get_feature_service(service_name),
        entity_rows=[{ENTITY_KEY: contact_id} for contact_id in contact_ids],
    ).to_dict(include_event_timestamps=True)
    stamps = [name for name in response if name.endswith("__ts")]
    # Feast reports event times as epoch seconds, 0 for an entity it has no row for.
    newest = [
        max(value or 0 for value in seconds) for seconds in zip(*(response[name] for name in stamps), strict=True)
    ]
    feature_time = pl.Series(
        EVENT_TIMESTAMP, [round(seconds * 1_000_000) if seconds > 0 else None for seconds in newest], pl.Int64
    ).cast(pl.Datetime("us"))
    columns = [
        pl.Series(ENTITY_KEY, response[ENTITY_KEY], pl.Int64) if name == ENTITY_KEY else pl.Series(name, values)
        for name, values in response.items()
        if name not in stamps
    ]
    return pl.DataFrame([*columns, feature_time])
