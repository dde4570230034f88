"""Loading a contact's history of stage and custom values from a file (another CRM's field
history): each change joins the history once, and the newest change of a field becomes the
contact's current value, so the contact reads as it stands and its past can be labelled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import Table, bindparam, select, update

from crm_core.entities import Contact, ContactChange, CustomFieldDefinition
from crm_core.errors import ValidationFailedError
from crm_core.imports.bulk_records import REFUSED, ROW, VALUE_SHOWN, LoadContext, Loaded
from crm_core.imports.loading import insert_rows, stored_rows
from crm_core.schemas.imports import ImportProblem
from crm_core.schemas.records import LifecycleStage
from crm_core.services.contact_history import CUSTOM_PREFIX, STAGE, change_text
from crm_core.services.custom_fields import coerce, definitions_of
from crm_core.value_sets import where_among

STAGES = tuple(stage.value for stage in LifecycleStage)
CHANGE = ("contact_id", "field", "value", "changed_at")
_SCHEMA = pl.Schema(
    {"contact_id": pl.Int64(), "field": pl.String(), "value": pl.String(), "changed_at": pl.Datetime("us")}
)


def _canonical(field: str, value: str | None, definitions: Mapping[str, CustomFieldDefinition]) -> tuple[str, Any]:
    """(history field, typed value) for a file's field name and value, or a refusal naming the
    cell at fault (`field` or `value`) and why."""
    if field == STAGE:
        if value is None or value.strip().lower() not in STAGES:
            raise ValidationFailedError("value", f"a lifecycle stage is one of {', '.join(STAGES)}")
        return STAGE, value.strip().lower()
    name = field.removeprefix(CUSTOM_PREFIX)
    definition = definitions.get(name)
    if definition is None:
        known = ", ".join([STAGE, *(CUSTOM_PREFIX + known for known in definitions)])
        raise ValidationFailedError("field", f"is not a field with a history ({known})")
    if value is None:
        return CUSTOM_PREFIX + name, None  # the value was cleared
    try:
        return CUSTOM_PREFIX + name, coerce(definition, value)
    except ValueError as error:
        raise ValidationFailedError("value", str(error)) from None


def load_contact_changes(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
    loaded = Loaded()
    good = parsed.filter(~pl.col(REFUSED))
    definitions = definitions_of(ctx.uow, "contact")
    checked: dict[tuple[str, str | None], tuple[str, Any]] = {}
    for field, value in good.select("field", "value").unique().rows():
        try:
            checked[(field, value)] = _canonical(field, value, definitions)
        except ValidationFailedError as refused:
            for number, cell in (
                good.filter((pl.col("field") == field) & pl.col("value").eq_missing(value))
                .select(ROW, refused.field)
                .rows()
            ):
                shown = None if cell is None else cell[:VALUE_SHOWN]
                problem = ImportProblem(row=number, field=refused.field, reason=refused.reason, value=shown)
                loaded.problems.append(problem)
    rows = [
        (number, contact_id, *checked[(field, value)], changed_at)
        for number, contact_id, field, value, changed_at in good.select(ROW, *CHANGE).rows()
        if (field, value) in checked
    ]
    typed = {(field, change_text(value)): value for field, value in checked.values()}
    changes = pl.DataFrame(
        [(number, contact_id, field, change_text(value), at) for number, contact_id, field, value, at in rows],
        schema=pl.Schema({ROW: pl.Int64(), **_SCHEMA}),
        orient="row",
    )
    changes, loaded.duplicates_in_file = _fold_repeats(changes)
    stored = stored_rows(
        ctx.uow,
        (ContactChange.contact_id, ContactChange.field, ContactChange.value, ContactChange.changed_at),
        ContactChange.contact_id,
        changes["contact_id"].unique().to_list(),
        _SCHEMA,
    )
    new = changes.join(stored, on=list(CHANGE), how="anti", nulls_equal=True)
    loaded.unchanged = changes.height - new.height
    insert_rows(ctx.uow, ContactChange, new.select(CHANGE))
    _bring_current(ctx, new, stored, typed)
    loaded.inserted = new.height
    return loaded


def _fold_repeats(changes: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    kept = changes.unique(list(CHANGE), keep="first", maintain_order=True)
    return kept, changes.height - kept.height


def _bring_current(
    ctx: LoadContext, new: pl.DataFrame, stored: pl.DataFrame, typed: Mapping[tuple[str, str | None], Any]
) -> None:
    """Where a field's newest change (file and history together) came from this file, the contact
    takes that value now (a stored change at the same moment stays the newest)."""
    both = pl.concat(
        [
            stored.with_columns(pl.lit(False).alias("from_file")),
            new.select(CHANGE).with_columns(pl.lit(True).alias("from_file")),
        ]
    )
    newest = (
        both.with_row_index("order")
        .group_by("contact_id", "field")
        .agg(pl.all().sort_by("changed_at", "order").last())
        .filter(pl.col("from_file"))
    )
    stages = newest.filter(pl.col("field") == STAGE)
    if not stages.is_empty():
        table: Table = Contact.__table__  # type: ignore[assignment]
        statement = update(table).where(table.c.id == bindparam("contact")).values(lifecycle_stage=bindparam("stage"))
        moves = [{"contact": contact, "stage": value} for contact, value in stages.select("contact_id", "value").rows()]
        ctx.uow.session.connection().execute(statement, moves)
    custom = newest.filter(pl.col("field") != STAGE)
    if custom.is_empty():
        return
    dialect = ctx.uow.session.get_bind().dialect.name
    ids = custom["contact_id"].unique().to_list()
    contacts = {c.id: c for c in ctx.uow.session.scalars(where_among(select(Contact), Contact.id, ids, dialect))}
    for contact_id, field, value in custom.select("contact_id", "field", "value").rows():
        contact = contacts[contact_id]
        values = dict(contact.custom or {})
        name = field.removeprefix(CUSTOM_PREFIX)
        if value is None:
            values.pop(name, None)
        else:
            values[name] = typed[(field, value)]
        contact.custom = values
