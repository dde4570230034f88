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
from functools import cache
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, text

from crm_core.entities import CurrentScore, Prediction
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
    dialect = connection.dialect.name
    for (model_name, version, feature_timestamp), contact_ids in written.items():
        identity = {"model_name": model_name, "model_version": version, "feature_timestamp": feature_timestamp}
        for by_range, bounds in _selections(sorted(set(contact_ids))):
            connection.execute(_upsert(dialect, by_range=by_range), identity | bounds)


def _selections(contact_ids: list[int]) -> Iterable[tuple[bool, dict[str, Any]]]:
    """(by range?, the parameters choosing the contacts) per statement to run."""
    if not contact_ids:
        return
    if contact_ids[-1] - contact_ids[0] < 2 * len(contact_ids):
        yield True, {"first_contact": contact_ids[0], "last_contact": contact_ids[-1]}
        return
    for start in range(0, len(contact_ids), IN_LIST_CHUNK):
        yield False, {"contact_ids": contact_ids[start : start + IN_LIST_CHUNK]}


@cache
def _upsert(dialect: str, *, by_range: bool) -> Executable:
    """One statement per selection, written once as text with typed bound parameters.

    Text because SQLAlchemy 2.0 does not cache the compiled form of an ON CONFLICT insert
    (neither dialect's `Insert` is cacheable): built as a construct, it was compiled anew on
    every online request and cost more than the scoring. The SQL is the same on SQLite and
    PostgreSQL; `dialect` keys the cache only so each engine gets its own statement.
    """
    del dialect
    current, predictions = _CURRENT.name, _PREDICTIONS.name
    contacts = "contact_id BETWEEN :first_contact AND :last_contact" if by_range else "contact_id IN :contact_ids"
    copied = ", ".join(_COPIED)
    updates = ", ".join(f"{name} = excluded.{name}" for name in ("prediction_id", *_COPIED))
    statement = text(
        f"INSERT INTO {current} (model_name, contact_id, prediction_id, {copied}) "
        f"SELECT model_name, contact_id, id, {copied} FROM {predictions} "
        "WHERE model_name = :model_name AND model_version = :model_version "
        f"AND feature_timestamp = :feature_timestamp AND {contacts} "
        f"ON CONFLICT (model_name, contact_id) DO UPDATE SET {updates} "
        "WHERE (excluded.scored_at, excluded.feature_timestamp, excluded.prediction_id) "
        f"> ({current}.scored_at, {current}.feature_timestamp, {current}.prediction_id)"
    )
    column = _PREDICTIONS.c
    typed = [
        bindparam("model_name", type_=column.model_name.type),
        bindparam("model_version", type_=column.model_version.type),
        bindparam("feature_timestamp", type_=column.feature_timestamp.type),
    ]
    if by_range:
        typed += [bindparam(name, type_=column.contact_id.type) for name in ("first_contact", "last_contact")]
    else:
        typed.append(bindparam("contact_ids", type_=column.contact_id.type, expanding=True))
    return statement.bindparams(*typed)
