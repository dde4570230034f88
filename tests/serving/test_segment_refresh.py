"""Segment refresh after scoring, on a generated CRM's newest feature snapshot."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from crm_core.entities import Segment, SegmentMember
from crm_intel.context import AppContext
from serving.segment_refresh import CLUSTER_COUNT, newest_population, refresh_segments

pytestmark = pytest.mark.slow


def test_behaviour_clusters_cover_the_newest_population_once_and_refit_the_same(generated_crm: AppContext) -> None:
    ctx = generated_crm
    population = newest_population(ctx.features.snapshot_path)
    first = refresh_segments(ctx.engine, ctx.features.snapshot_path, datetime(2026, 11, 2))
    assert len(first.cluster_sizes) == CLUSTER_COUNT
    assert sum(first.cluster_sizes.values()) == population.height, "every contact in exactly one cluster"
    with ctx.engine.connect() as connection:
        names = connection.execute(select(Segment.name).where(Segment.kind == "cluster")).scalars().all()
        distinct_members = connection.execute(
            select(func.count(func.distinct(SegmentMember.contact_id)))
            .join(Segment, Segment.id == SegmentMember.segment_id)
            .where(Segment.kind == "cluster")
        ).scalar_one()
    assert distinct_members == population.height
    assert all(
        " " in name and ("high" in name or "low" in name or "recent" in name or "long since" in name) for name in names
    )
    again = refresh_segments(ctx.engine, ctx.features.snapshot_path, datetime(2026, 11, 3))
    assert again.cluster_sizes == first.cluster_sizes, "same data, same seed: same clusters"
