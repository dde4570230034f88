"""Write-back of model scores: validated, bulk, transactional and idempotent."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table

from crm_core.auth.principal import Principal
from crm_core.entities import Prediction, ShadowPrediction
from crm_core.errors import InvalidPredictionError
from crm_core.services import audit
from crm_core.services.access import rows_in_reach
from crm_core.services.current_scores import refresh_current_scores
from crm_core.services.idempotent import bulk_insert_ignoring_duplicates, plain_values
from crm_core.services.model_descriptions import note_scoring_models
from crm_core.services.population_states import clear_population_states
from crm_core.unit_of_work import UnitOfWork

IDENTITY_COLUMNS = ("contact_id", "model_name", "model_version", "feature_timestamp")


@dataclass(frozen=True)
class NewPrediction:
    contact_id: int
    model_name: str
    model_version: str
    mlflow_run_id: str
    score: float
    band: str
    top_factors: list[dict[str, Any]]
    feature_timestamp: datetime


@dataclass
class WriteBackResult:
    inserted: int = 0
    already_present: int = 0
    rejected: list[InvalidPredictionError] = field(default_factory=list)


def validate(rows: Sequence[NewPrediction]) -> list[InvalidPredictionError]:
    """Field-level checks that need no database; each problem names its row."""
    problems: list[InvalidPredictionError] = []
    for index, row in enumerate(rows):
        if not (isinstance(row.score, float | int) and math.isfinite(row.score)):
            problems.append(InvalidPredictionError(index, "score", "must be a finite number"))
        elif not 0.0 <= row.score <= 1.0:
            problems.append(InvalidPredictionError(index, "score", f"{row.score} is outside [0, 1]"))
        if not row.model_name:
            problems.append(InvalidPredictionError(index, "model_name", "is empty"))
        if not row.model_version:
            problems.append(InvalidPredictionError(index, "model_version", "is empty"))
    return problems


_FIELDS = tuple(field.name for field in fields(NewPrediction))


def record_predictions(
    uow: UnitOfWork,
    principal: Principal,
    rows: Sequence[NewPrediction],
    *,
    scored_at: datetime,
    shadow: bool = False,
    reachable: set[int] | None = None,
) -> WriteBackResult:
    """Store `rows` in one transaction; rows already stored (same identity) are skipped.

    `shadow` puts them in the challengers' side table instead, under its own policy entry.
    `reachable` is the result of `contact_ids_in_reach` for these rows' contacts, taken by the
    caller in this same unit of work (online scoring checks before it reads features); without
    it the reach is looked up here.

    Bad rows (invalid fields, unknown contacts or contacts outside the caller's reach) are
    reported and left out; the good rows of the same batch are still written. The caller
    commits through the unit of work.
    """
    result = WriteBackResult(rejected=validate(rows))
    rejected_rows = {problem.row for problem in result.rejected}
    entity, table = ("shadow_prediction", ShadowPrediction) if shadow else ("prediction", Prediction)
    contact_ids = [row.contact_id for row in rows]
    kept, out_of_reach = rows_in_reach(uow, principal, entity, contact_ids, rejected_rows, reachable=reachable)
    result.rejected.extend(out_of_reach)
    payload = [
        plain_values(rows[index], _FIELDS, score=float(rows[index].score), scored_at=scored_at) for index in kept
    ]
    if payload:
        if not shadow:
            # Before the insert, which takes SQLite's write gate: this is a read once a model is
            # known, and every statement after the first write holds other writers back.
            note_scoring_models(uow, {values["model_name"] for values in payload})
        # Core (not ORM) insert of plain dicts: the ORM's bulk path and dataclasses.asdict's deep
        # copies cost three quarters of the time at a million rows.
        target = cast(Table, table.__table__)
        result.inserted = bulk_insert_ignoring_duplicates(uow, target, IDENTITY_COLUMNS, payload)
        if not shadow and result.inserted:
            # A row already stored moved the current scores when it was first written (in its
            # own transaction), so a batch that stores nothing new has nothing to move: skipped,
            # it keeps an unchanged contact's rescoring from holding the write gate longer.
            written: dict[tuple[str, str, datetime], list[int]] = {}
            for values in payload:
                identity = (values["model_name"], values["model_version"], values["feature_timestamp"])
                written.setdefault(identity, []).append(values["contact_id"])
            refresh_current_scores(uow, written)
            for (model_name, _, feature_timestamp), contact_ids in written.items():
                clear_population_states(uow, model_name, contact_ids, feature_timestamp=feature_timestamp)
    result.already_present = len(payload) - result.inserted
    models = sorted({(row.model_name, row.model_version) for row in rows})
    audit.record(
        uow,
        principal,
        action=f"{entity}.write_back",
        entity=entity,
        details={
            "models": [f"{name}@{version}" for name, version in models],
            "inserted": result.inserted,
            "already_present": result.already_present,
            "rejected": len(result.rejected),
        },
        at=scored_at,
    )
    return result
