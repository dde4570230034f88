"""Read-side exports of CRM tables as polars frames: the only door features use into the CRM.

Columns are selected and typed here, so downstream transforms can rely on a pinned shape
whatever the database dialect returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine, Select, select

from crm_core.entities import (
    Activity,
    Contact,
    ContactChange,
    CustomFieldDefinition,
    CustomFieldType,
    Deal,
    Order,
    Prediction,
    Ticket,
)

TIMESTAMP = pl.Datetime("us")

CONTACTS_SCHEMA = pl.Schema({"contact_id": pl.Int64(), "created_at": TIMESTAMP})
ACTIVITIES_SCHEMA = pl.Schema(
    {"contact_id": pl.Int64(), "type": pl.String(), "channel": pl.String(), "occurred_at": TIMESTAMP}
)
ORDERS_SCHEMA = pl.Schema({"contact_id": pl.Int64(), "ordered_at": TIMESTAMP, "total": pl.Float64()})
TICKETS_SCHEMA = pl.Schema(
    {
        "contact_id": pl.Int64(),
        "opened_at": TIMESTAMP,
        "resolved_at": TIMESTAMP,
        "satisfaction": pl.Int64(),
    }
)
DEALS_SCHEMA = pl.Schema(
    {
        "contact_id": pl.Int64(),
        "amount": pl.Float64(),
        "status": pl.String(),
        "opened_at": TIMESTAMP,
        "closed_at": TIMESTAMP,
    }
)

CHANGES_SCHEMA = pl.Schema(
    {"contact_id": pl.Int64(), "field": pl.String(), "value": pl.String(), "changed_at": TIMESTAMP}
)


CUSTOM_DTYPES: dict[str, pl.DataType] = {
    CustomFieldType.TEXT.value: pl.String(),
    CustomFieldType.CHOICE.value: pl.String(),
    CustomFieldType.NUMBER.value: pl.Float64(),
    CustomFieldType.INTEGER.value: pl.Int64(),
    CustomFieldType.BOOLEAN.value: pl.Boolean(),
    CustomFieldType.DATE.value: pl.Date(),
}


@dataclass(frozen=True)
class CrmExport:
    """The CRM tables the feature pipeline reads, one frame each.

    `contact_custom` holds the contacts' custom fields, one typed column per definition, so an
    organisation's own attributes can feed models without a code change.
    """

    contacts: pl.DataFrame
    activities: pl.DataFrame
    orders: pl.DataFrame
    tickets: pl.DataFrame
    deals: pl.DataFrame
    contact_custom: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"contact_id": pl.Int64()}))
    # Each contact's stage and custom values as they changed (field, value, changed_at).
    contact_changes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CHANGES_SCHEMA))


# Rows are turned into columns a slice at a time: holding a whole table as Python row objects
# first needed over 20 GiB for 1M contacts' 44M activities, where the columns take about 1 GiB.
EXPORT_CHUNK_ROWS = 250_000


def _read(engine: Engine, query: Select[Any], schema: pl.Schema) -> pl.DataFrame:
    frames: list[pl.DataFrame] = []
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=EXPORT_CHUNK_ROWS).execute(query)
        for rows in result.partitions():
            frames.append(pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row"))
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, rechunk=True)


def _among(query: Select[Any], column: Any, contact_ids: Sequence[int] | None) -> Select[Any]:
    return query if contact_ids is None else query.where(column.in_(list(contact_ids)))


def export_contact_custom(engine: Engine, contact_ids: Sequence[int] | None = None) -> pl.DataFrame:
    with engine.connect() as connection:
        definitions = connection.execute(
            select(CustomFieldDefinition.name, CustomFieldDefinition.type)
            .where(CustomFieldDefinition.entity == "contact")
            .order_by(CustomFieldDefinition.id)
        ).all()
        rows = connection.execute(
            _among(
                select(Contact.id, Contact.custom).where(Contact.custom.is_not(None)), Contact.id, contact_ids
            ).order_by(Contact.id)
        ).all()
    schema = pl.Schema({"contact_id": pl.Int64(), **{name: CUSTOM_DTYPES[kind] for name, kind in definitions}})
    records = [{"contact_id": contact_id} | (values or {}) for contact_id, values in rows]
    frame = pl.DataFrame(
        records,
        schema=pl.Schema({name: pl.String() if dtype == pl.Date() else dtype for name, dtype in schema.items()}),
        strict=False,
    )
    return frame.with_columns(pl.col(name).str.to_date() for name, dtype in schema.items() if dtype == pl.Date())


def export_crm(engine: Engine, contact_ids: Sequence[int] | None = None) -> CrmExport:
    """Snapshot the tables features need; each frame is sorted by contact for fast group-bys.
    With `contact_ids`, only those contacts' rows: what live rescoring reads after a write,
    through the same queries as the nightly build (a few hundred ids at a time)."""
    return CrmExport(
        contacts=_read(
            engine,
            _among(select(Contact.id, Contact.created_at), Contact.id, contact_ids).order_by(Contact.id),
            CONTACTS_SCHEMA,
        ),
        activities=_read(
            engine,
            _among(
                select(Activity.contact_id, Activity.type, Activity.channel, Activity.occurred_at),
                Activity.contact_id,
                contact_ids,
            ).order_by(Activity.contact_id, Activity.occurred_at),
            ACTIVITIES_SCHEMA,
        ),
        orders=_read(
            engine,
            _among(select(Order.contact_id, Order.ordered_at, Order.total), Order.contact_id, contact_ids).order_by(
                Order.contact_id, Order.ordered_at
            ),
            ORDERS_SCHEMA,
        ),
        tickets=_read(
            engine,
            _among(
                select(Ticket.contact_id, Ticket.opened_at, Ticket.resolved_at, Ticket.satisfaction),
                Ticket.contact_id,
                contact_ids,
            ).order_by(Ticket.contact_id, Ticket.opened_at),
            TICKETS_SCHEMA,
        ),
        deals=_read(
            engine,
            _among(
                select(Deal.contact_id, Deal.amount, Deal.status, Deal.opened_at, Deal.closed_at).where(
                    Deal.contact_id.is_not(None)
                ),
                Deal.contact_id,
                contact_ids,
            ).order_by(Deal.contact_id, Deal.opened_at, Deal.id),
            DEALS_SCHEMA,
        ),
        contact_custom=export_contact_custom(engine, contact_ids),
        contact_changes=_read(
            engine,
            _among(
                select(ContactChange.contact_id, ContactChange.field, ContactChange.value, ContactChange.changed_at),
                ContactChange.contact_id,
                contact_ids,
            ).order_by(ContactChange.contact_id, ContactChange.changed_at, ContactChange.id),
            CHANGES_SCHEMA,
        ),
    )


SCORES_SCHEMA = pl.Schema(
    {
        "contact_id": pl.Int64(),
        "model_version": pl.String(),
        "score": pl.Float64(),
        "band": pl.String(),
        "scored_at": TIMESTAMP,
    }
)


def export_scores(engine: Engine, model_name: str) -> pl.DataFrame:
    """Every stored score of one model, oldest first: what checking scores against outcomes reads."""
    query = (
        select(Prediction.contact_id, Prediction.model_version, Prediction.score, Prediction.band, Prediction.scored_at)
        .where(Prediction.model_name == model_name)
        .order_by(Prediction.scored_at, Prediction.id)
    )
    return _read(engine, query, SCORES_SCHEMA)
