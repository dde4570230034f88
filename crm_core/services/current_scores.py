"""Keeping each contact's current score in step with the predictions written for it.

After predictions are stored, the rows they stand for are upserted into `current_scores`: a
contact's row moves to a new prediction only when that one is newer (scoring time, then
feature time, then id: the order every list and segment ranked scores by), so replays and
out-of-order writes never move it back. It runs in the write-back's own transaction, so a
chunk's scores and their current rows commit (or vanish) together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, select, tuple_

from crm_core.entities import CurrentScore, Prediction
from crm_core.services.idempotent import upsert_insert
from crm_core.unit_of_work import UnitOfWork

_CURRENT = cast(Table, CurrentScore.__table__)
_PREDICTIONS = cast(Table, Prediction.__table__)
_COPIED = ("model_version", "score", "band", "feature_timestamp", "scored_at")


IN_LIST_CHUNK = 500


def refresh_current_scores(uow: UnitOfWork, written: dict[tuple[str, str, datetime], list[int]]) -> None:
    """Upsert the current rows of the predictions just stored: `written` maps each identity
    (model, version, feature time) to the contacts it was written for. A dense run of contact
    ids (a batch chunk) is selected as one id range, a sparse few (an online request) by list;
    predictions of the same identity already stored inside a range are upserted again, which
    changes nothing."""
    connection = uow.session.connection()
    insert = upsert_insert(connection.dialect.name)
    for (model_name, version, feature_timestamp), contact_ids in written.items():
        for contacts in _selections(sorted(set(contact_ids))):
            source = select(
                _PREDICTIONS.c.model_name,
                _PREDICTIONS.c.contact_id,
                _PREDICTIONS.c.id,
                *(_PREDICTIONS.c[name] for name in _COPIED),
            ).where(
                _PREDICTIONS.c.model_name == model_name,
                _PREDICTIONS.c.model_version == version,
                _PREDICTIONS.c.feature_timestamp == feature_timestamp,
                contacts,
            )
            statement = insert(_CURRENT).from_select(["model_name", "contact_id", "prediction_id", *_COPIED], source)
            excluded = statement.excluded
            newer = tuple_(excluded.scored_at, excluded.feature_timestamp, excluded.prediction_id) > tuple_(
                _CURRENT.c.scored_at, _CURRENT.c.feature_timestamp, _CURRENT.c.prediction_id
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[_CURRENT.c.model_name, _CURRENT.c.contact_id],
                    set_={"prediction_id": excluded.prediction_id} | {name: excluded[name] for name in _COPIED},
                    where=newer,
                )
            )


def _selections(contact_ids: list[int]) -> Iterable[ColumnElement[bool]]:
    if not contact_ids:
        return
    column = _PREDICTIONS.c.contact_id
    if contact_ids[-1] - contact_ids[0] < 2 * len(contact_ids):
        yield column.between(contact_ids[0], contact_ids[-1])
        return
    for start in range(0, len(contact_ids), IN_LIST_CHUNK):
        yield column.in_(contact_ids[start : start + IN_LIST_CHUNK])
