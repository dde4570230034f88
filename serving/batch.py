"""Batch scoring of a model's population in the newest feature snapshot, written back in bulk.

Reads the snapshot Feast materialized (the offline store's newest `as_of`), selecting the
champion's own feature list, so batch and online scores use the same values. Each chunk is
scored and committed in one transaction with the run's progress, so a run that dies part-way
resumes after the last committed contact when it is started again. The snapshot's contacts
outside the model's population get their stated reason instead (`write_states`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.errors import CrmError
from crm_core.services.population_states import record_population_states
from crm_core.services.predictions import NewPrediction
from crm_core.services.write_back_runs import RunKey, write_back_resumably
from crm_core.unit_of_work import UnitOfWork
from features.catalogue import ModelEntry
from features.model_input import model_rows
from features.populations import STATE, NewestPopulation, newest_population
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.snapshots import newest_snapshot
from serving.champion import Champion
from serving.scoring import score_features

ChunkCallback = Callable[[int], None]

# Batch scoring runs in-process, started by an operator: it acts as the model service.
BATCH_PRINCIPAL = Principal.system(Role.MODEL_SERVICE, "batch scoring")


class NoSnapshotError(CrmError, RuntimeError):
    """No feature snapshot to score: features have not been built."""


@dataclass
class BatchResult:
    contacts: int = 0
    inserted: int = 0
    already_present: int = 0
    rejected: int = 0
    feature_timestamp: datetime | None = None
    resumed_after_rows: int = 0  # committed by an earlier attempt that was interrupted
    stated: int = 0  # contacts outside the population given their reason instead of a score


def _require_snapshot(snapshot_path: Path) -> None:
    if not snapshot_path.exists():
        raise NoSnapshotError(f"no feature snapshots at {snapshot_path}: run `crm-intel build-features` first")


def latest_snapshot(snapshot_path: Path, feature_names: list[str]) -> pl.DataFrame:
    """Every contact's row of the newest snapshot, with `feature_names`."""
    _require_snapshot(snapshot_path)
    _, newest_rows = newest_snapshot(snapshot_path)
    held = [name for name in feature_names if name in newest_rows.collect_schema()]
    return model_rows(newest_rows.select(ENTITY_KEY, EVENT_TIMESTAMP, *held).sort(ENTITY_KEY).collect(), feature_names)


def population_snapshot(settings: FeatureSettings, entry: ModelEntry) -> NewestPopulation:
    """The newest snapshot split by `entry`'s population: rows to score, reasons for the rest."""
    _require_snapshot(settings.snapshot_path)
    return newest_population(settings.snapshot_path, settings.population_path, entry)


def score_all(
    engine: Engine,
    champion: Champion,
    snapshot: pl.DataFrame,
    *,
    batch_size: int,
    on_chunk: ChunkCallback | None = None,
    shadow: bool = False,
) -> BatchResult:
    """Score `snapshot` (sorted by contact) chunk by chunk; `shadow` writes a challenger's
    scores to the side table."""
    result = BatchResult(contacts=snapshot.height)
    if not snapshot.height:
        return result
    feature_timestamp = snapshot[EVENT_TIMESTAMP][0]
    result.feature_timestamp = feature_timestamp

    def chunks(after_contact_id: int) -> Iterator[list[NewPrediction]]:
        remaining = snapshot.filter(pl.col(ENTITY_KEY) > after_contact_id)
        for chunk in remaining.iter_slices(batch_size):
            yield score_features(champion, chunk)

    progress = write_back_resumably(
        make_session_factory(engine),
        BATCH_PRINCIPAL,
        RunKey(champion.model_name, champion.version, feature_timestamp, shadow=shadow),
        total_rows=snapshot.height,
        chunks=chunks,
        scored_at=utc_now(),
        on_chunk=on_chunk,
    )
    result.inserted = progress.written.inserted
    result.already_present = progress.written.already_present
    result.rejected = len(progress.written.rejected)
    result.resumed_after_rows = progress.rows_before
    return result


def write_states(engine: Engine, model_name: str, population: NewestPopulation, *, batch_size: int) -> tuple[int, int]:
    """Each contact outside the population gets its reason, a chunk per transaction (writing a
    chunk again replaces it, so a run that dies part-way is simply run again). Returns the
    states stored and the rows refused."""
    session_factory = make_session_factory(engine)
    stored = refused = 0
    decided_at = utc_now()
    for chunk in population.outside.iter_slices(batch_size):
        with UnitOfWork(session_factory) as uow:
            written, problems = record_population_states(
                uow,
                BATCH_PRINCIPAL,
                model_name,
                list(zip(chunk[ENTITY_KEY].to_list(), chunk[STATE].to_list(), strict=True)),
                feature_timestamp=population.as_of,
                decided_at=decided_at,
            )
            uow.commit()
        stored += written
        refused += len(problems)
    return stored, refused
