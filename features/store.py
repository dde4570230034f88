"""The Feast store under the data home: configuration, apply, retrieval.

Feast is imported inside functions: `import feast` costs seconds, and commands or tests that
never touch the store should not pay it.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

import polars as pl

from crm_core.errors import CrmError
from features.catalogue import Catalogue
from features.catalogue_file import load_catalogue
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP, custom_columns_of
from features.settings import FeatureSettings

if TYPE_CHECKING:
    from feast import FeatureStore

PROJECT = "crm_intel"
# Feast's own file registry store rewrites the file in place; ours replaces it in one rename.
ATOMIC_FILE_REGISTRY_STORE = "features.registry_store.AtomicFileRegistryStore"


class FeatureRetrievalError(CrmError, RuntimeError):
    """Feast returned something other than one row per requested entity row."""


def open_store(settings: FeatureSettings, feast_online: object | None = None) -> FeatureStore:
    """The home's Feast store, with no online store of Feast's: serving reads ours
    (`features.online`). `feast_online` gives it one, for a peer comparison that fills it with
    Feast's `materialize`."""
    os.environ.setdefault("FEAST_USAGE", "False")  # no telemetry calls from a CRM
    from feast import FeatureStore, RepoConfig
    from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig
    from feast.repo_config import RegistryConfig

    # Importing feast resets DeprecationWarnings to "once"; silence the one its DuckDB backend
    # (ibis) raises on every query, which we cannot fix from here.
    warnings.filterwarnings("ignore", message="fetch_arrow_table", category=DeprecationWarning)

    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(
        project=PROJECT,
        provider="local",
        registry=RegistryConfig(path=str(settings.registry_path), registry_store_type=ATOMIC_FILE_REGISTRY_STORE),
        offline_store=DuckDBOfflineStoreConfig(),
        online_store=feast_online,
        entity_key_serialization_version=3,
        repo_path=settings.feast_dir,
    )
    return FeatureStore(config=config)


def apply_definitions(store: FeatureStore, settings: FeatureSettings, catalogue: Catalogue | None = None) -> None:
    """Register the repo's definitions, with the source pinned to this data home's snapshots,
    and one feature service per scorer in this home's model catalogue.

    The definitions name the snapshot file relative to the repo; Feast's DuckDB store resolves
    that for point-in-time joins but not for `materialize`, so the registry gets the absolute
    path of this home's file.
    """
    from features.feature_repo.contact_features import CONTACT_FEATURE_VIEWS, custom_field_view
    from features.feature_repo.data_sources import contact_snapshots
    from features.feature_repo.entities import contact
    from features.feature_repo.feature_services import feature_services

    contact_snapshots.file_options.uri = str(settings.snapshot_path)
    custom = (
        custom_columns_of(pl.read_parquet_schema(settings.snapshot_path)) if settings.snapshot_path.exists() else []
    )
    custom_view = custom_field_view(custom) if custom else None
    models = catalogue if catalogue is not None else load_catalogue(settings.home)
    services = feature_services(models, custom_view)
    views = [*CONTACT_FEATURE_VIEWS, *([custom_view] if custom_view is not None else [])]
    store.apply([contact, contact_snapshots, *views, *services])


def historical_features(store: FeatureStore, entity_rows: pl.DataFrame, service_name: str) -> pl.DataFrame:
    """Point-in-time join of `entity_rows` (contact_id, event_timestamp, ...) with a service.

    Feast neither keeps row order nor, with some offline stores, every row; this returns the
    rows in the order given and fails loudly if any went missing.
    """
    entity_frame = entity_rows.select(ENTITY_KEY, EVENT_TIMESTAMP).to_pandas()
    job = store.get_historical_features(entity_df=entity_frame, features=store.get_feature_service(service_name))
    retrieved = pl.from_arrow(job.to_arrow())
    assert isinstance(retrieved, pl.DataFrame)
    retrieved = retrieved.with_columns(
        pl.col(EVENT_TIMESTAMP).dt.replace_time_zone(None).dt.cast_time_unit("us"),
        pl.col(ENTITY_KEY).cast(pl.Int64),
    )
    joined = entity_rows.join(retrieved, on=[ENTITY_KEY, EVENT_TIMESTAMP], how="left", coalesce=True)
    if retrieved.height != entity_rows.height or joined.height != entity_rows.height:
        raise FeatureRetrievalError(f"asked for {entity_rows.height} training rows, Feast returned {retrieved.height}")
    return joined


def service_feature_names(store: FeatureStore, service_name: str) -> list[str]:
    """Feature columns a FeatureService yields, in its declared order."""
    service = store.get_feature_service(service_name)
    return [feature.name for projection in service.feature_view_projections for feature in projection.features]
