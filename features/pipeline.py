"""Build features from the CRM and publish them: snapshots -> Feast apply -> materialize."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crm_core.exports import CrmExport
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, data_end, snapshot_dates, write_snapshots
from features.store import apply_definitions, materialize_latest, open_store

StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class FeatureBuildResult:
    snapshot_rows: int
    contacts_latest: int
    as_of_dates: list[datetime]
    events_read: int


def build_and_publish(
    export: CrmExport, settings: FeatureSettings, on_stage: StageCallback | None = None
) -> FeatureBuildResult:
    """Snapshots from an export of the CRM (taken once by the caller, who may reuse it)."""
    stage = on_stage or (lambda _name: None)
    dates = snapshot_dates(data_end(export), count=settings.snapshot_count, step_days=settings.snapshot_step_days)
    stage(f"compute {len(dates)} snapshots")
    snapshots = build_snapshots(export, dates)
    write_snapshots(snapshots, settings.snapshot_path)
    stage("feast apply")
    store = open_store(settings)
    apply_definitions(store, settings)
    stage("materialize latest snapshot to the online store")
    materialize_latest(store, dates[-1])
    return FeatureBuildResult(
        snapshot_rows=snapshots.height,
        contacts_latest=snapshots.filter(snapshots["event_timestamp"] == dates[-1]).height,
        as_of_dates=dates,
        events_read=export.activities.height + export.orders.height + export.tickets.height,
    )
