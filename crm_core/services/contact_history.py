"""Keeping each contact's history of the values outcomes are defined on: its lifecycle stage and
its custom fields. Every write path appends here (the API, imports), so a company's own outcome
("the stage becomes churned within 180 days") can be labelled at any past date."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from crm_core.entities import ContactChange
from crm_core.unit_of_work import UnitOfWork

STAGE = "lifecycle_stage"
CUSTOM_PREFIX = "custom."
# Contacts loaded without a history start it from the stage they hold, dated at their creation.
FIRST_STAGES = (
    "INSERT INTO contact_changes (contact_id, field, value, changed_at) "
    "SELECT id, 'lifecycle_stage', lifecycle_stage, created_at FROM contacts"
)


def change_text(value: Any) -> str | None:
    """The one spelling a changed value is kept and compared in: text as is, true/false, numbers
    as JSON writes them (5, 2.5)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def tracked_values(stage: str | None, custom: Mapping[str, Any] | None) -> dict[str, str | None]:
    """field -> canonical text of what a contact holds that its history follows."""
    values = {f"{CUSTOM_PREFIX}{name}": change_text(value) for name, value in (custom or {}).items()}
    return values | ({STAGE: stage} if stage is not None else {})


def changed_between(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> dict[str, str | None]:
    """What `after` sets differently from `before` (a field gone from `after` was cleared)."""
    changed = {field: value for field, value in after.items() if before.get(field) != value}
    return changed | {field: None for field in before if field not in after and before[field] is not None}


def append_changes(uow: UnitOfWork, rows: Iterable[tuple[int, str, str | None, datetime]]) -> None:
    """(contact id, field, value, when) rows, appended in one statement."""
    listed = [{"contact_id": c, "field": f, "value": v, "changed_at": at} for c, f, v, at in rows]
    if listed:
        uow.session.execute(insert(ContactChange), listed)


def record_contact_write(uow: UnitOfWork, contact: Any, before: Mapping[str, str | None], at: datetime) -> None:
    """After a contact is created (`before` empty) or updated: what changed, stamped `at`."""
    after = tracked_values(contact.lifecycle_stage, contact.custom)
    changes = changed_between(before, after)
    append_changes(uow, ((contact.id, field, value, at) for field, value in changes.items()))
