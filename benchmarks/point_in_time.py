"""Point-in-time training sets: our path (Feast with the DuckDB offline store, as training uses
it, then every row checked present and put back in the order asked) beside Feast's default
file offline store, and beside a bare `get_historical_features` call on the same DuckDB store
(what an informed Feast user writes), on the same entity rows and the same registry.

Rows are asserted equal first. A plain polars as-of join over the same snapshots is timed as
well and reported in `extra`: it is the practical limit for this join on this machine.
"""

from __future__ import annotations

import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from benchmarks.results import Figure
from benchmarks.synthetic import HISTORY_END, synthetic_export
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURE_NAMES
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, replace_parquet, snapshot_dates
from features.store import PROJECT, apply_definitions, historical_features, open_store

SERVICE = "churn_v1"


def entity_rows(contacts: int, rows: int, first: pl.Datetime, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    span = int((HISTORY_END - first).total_seconds())  # type: ignore[operator]
    return pl.DataFrame(
        {
            ENTITY_KEY: rng.integers(1, contacts + 1, rows),
            EVENT_TIMESTAMP: pl.Series(rng.integers(0, span, rows) * 1_000_000).cast(pl.Duration("us")) + first,
        }
    ).unique(maintain_order=True)


def _file_store(settings: FeatureSettings) -> object:
    from feast import FeatureStore, RepoConfig
    from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

    return FeatureStore(
        config=RepoConfig(
            project=PROJECT,
            provider="local",
            registry=str(settings.registry_path),
            offline_store=DaskOfflineStoreConfig(type="file"),
            online_store=SqliteOnlineStoreConfig(path=str(settings.feast_dir / "online.db")),
            entity_key_serialization_version=3,
            repo_path=settings.feast_dir,
        )
    )


def _feast_rows(store: object, rows: pl.DataFrame) -> pl.DataFrame:
    """Feast's answer as it comes (either offline store), typed for comparison."""
    job = store.get_historical_features(  # type: ignore[attr-defined]
        entity_df=rows.to_pandas(),
        features=store.get_feature_service(SERVICE),  # type: ignore[attr-defined]
    )
    frame = pl.from_arrow(job.to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(
        pl.col(EVENT_TIMESTAMP).dt.replace_time_zone(None).dt.cast_time_unit("us"), pl.col(ENTITY_KEY).cast(pl.Int64)
    )


def _asof(snapshots: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    right = snapshots.rename({EVENT_TIMESTAMP: "snapshot_at"}).sort("snapshot_at")
    with warnings.catch_warnings():
        # Both sides are sorted on the join key just above; polars cannot verify it per group.
        warnings.filterwarnings("ignore", message="Sortedness of columns cannot be checked")
        return rows.sort(EVENT_TIMESTAMP).join_asof(
            right, left_on=EVENT_TIMESTAMP, right_on="snapshot_at", by=ENTITY_KEY, strategy="backward"
        )


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    columns = [ENTITY_KEY, EVENT_TIMESTAMP, *FEATURE_NAMES]
    return frame.select(columns).with_columns(pl.col(FEATURE_NAMES).cast(pl.Float64)).sort(ENTITY_KEY, EVENT_TIMESTAMP)


def run(contacts: int, events: int, rows: int, home: Path) -> list[Figure]:
    settings = FeatureSettings(home=home)
    dates = snapshot_dates(HISTORY_END, count=12, step_days=30)
    snapshots = build_snapshots(synthetic_export(contacts, events), dates)
    replace_parquet(snapshots, settings.snapshot_path)
    store = open_store(settings)
    apply_definitions(store, settings)
    entities = entity_rows(contacts, rows, dates[0] + timedelta(days=1))  # type: ignore[arg-type]

    began = time.perf_counter()
    bare = _feast_rows(store, entities)  # the same call on the DuckDB store: no order, no checks
    duckdb_seconds = time.perf_counter() - began
    began = time.perf_counter()
    ours = historical_features(store, entities, SERVICE)
    ours_seconds = time.perf_counter() - began
    file_store = _file_store(settings)
    began = time.perf_counter()
    theirs = _feast_rows(file_store, entities)
    theirs_seconds = time.perf_counter() - began
    began = time.perf_counter()
    limit = _asof(snapshots, entities)
    asof_seconds = time.perf_counter() - began

    assert ours.height == entities.height, "ours returns every entity row"
    assert_frame_equal(_comparable(ours), _comparable(limit), check_exact=False, abs_tol=1e-9)
    # Feast's file store silently drops entity rows with no snapshot at or before their time
    # (a contact created later); every row it does return must match ours exactly.
    kept = _comparable(ours).join(theirs.select(ENTITY_KEY, EVENT_TIMESTAMP), on=[ENTITY_KEY, EVENT_TIMESTAMP])
    assert_frame_equal(kept, _comparable(theirs), check_exact=False, abs_tol=1e-9)
    assert_frame_equal(_comparable(bare), _comparable(ours), check_exact=False, abs_tol=1e-9)
    dropped = entities.height - theirs.height
    assert ours.filter(pl.col(FEATURE_NAMES[0]).is_null()).height >= dropped, "only rows with no snapshot go missing"
    return [
        Figure(
            "pit_training_set_vs_feast_file_store",
            entities.height / ours_seconds,
            entities.height / theirs_seconds,
            "rows/s",
            20,
            note=(
                f"{entities.height:,} entity rows over 12 snapshots of {contacts:,} contacts; rows asserted equal; "
                f"the file store dropped {dropped:,} rows that have no snapshot yet"
            ),
            extra={"polars_asof_rows_per_s": entities.height / asof_seconds, "file_store_rows_dropped": dropped},
        ),
        Figure(
            "pit_training_set_vs_feast_duckdb_store",
            entities.height / ours_seconds,
            entities.height / duckdb_seconds,
            "rows/s",
            0.9,
            note=(
                f"same {entities.height:,} rows; the baseline is the bare `get_historical_features` call on the "
                "DuckDB store (rows in Feast's order, unchecked); ours adds the presence check and the order asked"
            ),
        ),
    ]
