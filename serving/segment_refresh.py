"""Refreshing segments after scoring: rule segments re-evaluated on the new scores, behaviour
clusters refitted on the newest feature snapshot, all in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from crm_core.db import make_session_factory
from crm_core.services.segments import put_cluster_segments, refresh_rule_segments
from crm_core.unit_of_work import UnitOfWork
from features.schema import ENTITY_KEY, describe
from features.snapshots import newest_snapshot
from models.clustering import behaviour_clusters

# Recency, frequency, money and engagement: what marketers segment customers by.
CLUSTER_FEATURES = (
    "days_since_last_order",
    "orders_count_365d",
    "order_value_365d",
    "activities_count_30d",
    "emails_opened_count_30d",
    "open_tickets_count",
)
CLUSTER_COUNT = 5
CLUSTER_SEED = 42


@dataclass(frozen=True)
class SegmentRefresh:
    rule_sizes: dict[str, int]
    cluster_sizes: dict[str, int]


def newest_population(snapshot_path: Path) -> pl.DataFrame:
    _, newest_rows = newest_snapshot(snapshot_path)
    return newest_rows.select(ENTITY_KEY, *CLUSTER_FEATURES).sort(ENTITY_KEY).collect()


def refresh_segments(engine: Engine, snapshot_path: Path | None, now: datetime) -> SegmentRefresh:
    clusters: list[tuple[str, str, str, dict[str, object], list[int]]] = []
    if snapshot_path is not None and snapshot_path.exists():
        population = newest_population(snapshot_path)
        if population.height >= CLUSTER_COUNT:
            values = population.select(pl.col(CLUSTER_FEATURES).cast(pl.Float64)).to_numpy()
            found = behaviour_clusters(
                values, list(CLUSTER_FEATURES), k=CLUSTER_COUNT, seed=CLUSTER_SEED, describe=describe
            )
            ids = population[ENTITY_KEY].to_numpy()
            for cluster in found.clusters:
                members = [int(i) for i in ids[found.labels == cluster.index]]
                definition: dict[str, object] = {"profile": cluster.profile, "features": list(CLUSTER_FEATURES)}
                description = (
                    f"behaviour cluster {cluster.index + 1} of {CLUSTER_COUNT} "
                    "(KMeans on recency, frequency, spend and engagement)"
                )
                clusters.append((f"cluster-{cluster.index + 1}", cluster.name, description, definition, members))
    with UnitOfWork(make_session_factory(engine)) as uow:
        rules = refresh_rule_segments(uow, now)
        sizes = put_cluster_segments(uow, clusters, now)
        uow.commit()
    return SegmentRefresh(rule_sizes=rules, cluster_sizes=sizes)
