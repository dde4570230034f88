"""Build features from the CRM and publish them: snapshots and populations -> Feast apply -> online refresh."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crm_core.exports import CrmExport
from features.catalogue import Catalogue, History
from features.catalogue_file import load_catalogue
from features.custom_inputs import custom_inputs
from features.online.refresh import ProgressCallback, RefreshResult, refresh_online_store
from features.populations import populations_at
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, data_end, replace_parquet, snapshot_dates
from features.store import apply_definitions, open_store

StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class FeatureBuildResult:
    snapshot_rows: int
    contacts_latest: int
    as_of_dates: list[datetime]
    events_read: int
    online: RefreshResult


# Fit dates a dated model has at least, beside its calibration and holdout dates.
MIN_FIT_DATES = 3


def snapshots_needed(models: Catalogue, settings: FeatureSettings) -> int:
    """The configured count, or more when a model's horizon needs them: a time split keeps a
    horizon between its fit, calibration and holdout dates (`training.split.TimeSplit`), so a
    model labelled 180 days ahead needs snapshots 540 days back, and a few fit dates beyond."""
    longest = max((entry.horizon_days for entry in models.scorers() if entry.history is History.DATED), default=0)
    return max(settings.snapshot_count, math.ceil(3 * longest / settings.snapshot_step_days) + MIN_FIT_DATES)


def build_and_publish(
    export: CrmExport,
    settings: FeatureSettings,
    on_stage: StageCallback | None = None,
    on_online_progress: ProgressCallback | None = None,
    catalogue: Catalogue | None = None,
) -> FeatureBuildResult:
    """Snapshots from an export of the CRM (taken once by the caller, who may reuse it), and
    each model's population at the newest of them (the data home's catalogue unless given)."""
    stage = on_stage or (lambda _name: None)
    models = catalogue if catalogue is not None else load_catalogue(settings.home)
    count = snapshots_needed(models, settings)
    dates = snapshot_dates(data_end(export), count=count, step_days=settings.snapshot_step_days)
    custom = custom_inputs(export, models.custom_fields())
    stage(f"compute {len(dates)} snapshots" + (f" with {len(custom)} custom-field inputs" if custom else ""))
    snapshots = build_snapshots(export, dates, custom)
    replace_parquet(snapshots, settings.snapshot_path)
    stage("each model's population at the newest snapshot")
    replace_parquet(populations_at(export, models, dates[-1]), settings.population_path)
    stage("feast apply")
    store = open_store(settings)
    apply_definitions(store, settings, models)
    stage("load the latest snapshot into the online store")
    online = refresh_online_store(settings, settings.snapshot_path, dates[-1], on_progress=on_online_progress)
    return FeatureBuildResult(
        snapshot_rows=snapshots.height,
        contacts_latest=snapshots.filter(snapshots["event_timestamp"] == dates[-1]).height,
        as_of_dates=dates,
        events_read=export.activities.height + export.orders.height + export.tickets.height,
        online=online,
    )
