"""A few contacts' features and populations at one moment, by the nightly build's own code.

Live rescoring after a write reads only the written contacts' rows from the CRM
(`crm_core.exports.export_crm` with their ids) and runs the same transforms, custom inputs and
population rules the batch build runs over everyone (`build_snapshots`, `populations_at`), at
the moment of the rescore. Nothing here is a second implementation: a test holds the result
equal to the batch build's rows for the same contacts and `as_of`.

The rows are then put in the shape the online store holds (`OnlineLayout`): the layout the
last feature build wrote, so the served models read the columns they were trained on. A value
column of a custom field that none of these contacts holds reads 0 (as in the batch build); a
value first seen since the build has no column until the next build (no model knows it yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import Engine

from crm_core.exports import CrmExport, export_crm
from features.catalogue import Catalogue, ModelEntry
from features.custom_inputs import absent_indicators, custom_inputs
from features.online.layout import OnlineLayout
from features.populations import MODEL_NAME, population_at, populations_at
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.snapshots import build_snapshots


@dataclass(frozen=True)
class LiveFeatures:
    as_of: datetime
    rows: pl.DataFrame  # contact_id, event_timestamp, then the layout's features in its order
    populations: pl.DataFrame  # model_name, contact_id: who each scorer is for at `as_of`

    def members(self, model_name: str) -> pl.Series:
        return self.populations.filter(pl.col(MODEL_NAME) == model_name)[ENTITY_KEY].drop_nulls()


def in_layout(rows: pl.DataFrame, layout: OnlineLayout) -> pl.DataFrame:
    """`rows` with exactly the layout's features, in its order (see the module's note)."""
    filled = absent_indicators(rows, layout.features)
    missing = [name for name in layout.features if name not in filled.columns]
    filled = filled.with_columns(pl.lit(None, dtype=pl.Float64).alias(name) for name in missing)
    return filled.select(ENTITY_KEY, EVENT_TIMESTAMP, *layout.features)


def live_features(export: CrmExport, catalogue: Catalogue, layout: OnlineLayout, *, as_of: datetime) -> LiveFeatures:
    """The features and population memberships of the contacts `export` holds, at `as_of`."""
    inputs = custom_inputs(export, catalogue.custom_fields())
    rows = build_snapshots(export, [as_of], inputs) if export.contacts.height else _no_rows(layout)
    populations = populations_at(export, catalogue, as_of).select(MODEL_NAME, ENTITY_KEY)
    return LiveFeatures(as_of=as_of, rows=in_layout(rows, layout), populations=populations)


def _no_rows(layout: OnlineLayout) -> pl.DataFrame:
    schema = {ENTITY_KEY: pl.Int64(), EVENT_TIMESTAMP: pl.Datetime("us")}
    return pl.DataFrame(schema=schema | {name: pl.Float64() for name in layout.features})


def live_members(engine: Engine, entry: ModelEntry, contact_ids: Sequence[int], as_of: datetime) -> pl.Series:
    """Which of `contact_ids` `entry` is for at `as_of`, read from the CRM now: for rows a live
    rescore computed at a moment no feature build covered."""
    export = export_crm(engine, contact_ids)
    return population_at(export, entry, as_of).collect()[ENTITY_KEY]
