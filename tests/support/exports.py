"""A small CRM export written as rows, for tests of the transforms, labels and populations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from crm_core.exports import (
    ACTIVITIES_SCHEMA,
    CHANGES_SCHEMA,
    CONTACTS_SCHEMA,
    DEALS_SCHEMA,
    ORDERS_SCHEMA,
    TICKETS_SCHEMA,
    CrmExport,
)

Row = Sequence[Any]


def export_of(
    contacts: Sequence[tuple[int, datetime]],
    *,
    activities: Sequence[Row] = (),
    orders: Sequence[Row] = (),
    tickets: Sequence[Row] = (),
    deals: Sequence[Row] = (),
    changes: Sequence[Row] = (),
    custom: pl.DataFrame | None = None,
) -> CrmExport:
    """Each table from rows in its export schema's column order: contacts (id, created_at);
    activities (contact, type, channel, at); orders (contact, at, total); tickets (contact,
    opened, resolved, satisfaction); deals (contact, amount, status, opened, closed); changes
    (contact, field, value, at); `custom` the contacts' custom-field columns, if any."""

    def table(rows: Sequence[Row], schema: pl.Schema) -> pl.DataFrame:
        return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")

    extra = {} if custom is None else {"contact_custom": custom}
    return CrmExport(
        contacts=table(contacts, CONTACTS_SCHEMA),
        activities=table(activities, ACTIVITIES_SCHEMA),
        orders=table(orders, ORDERS_SCHEMA),
        tickets=table(tickets, TICKETS_SCHEMA),
        deals=table(deals, DEALS_SCHEMA),
        contact_changes=table(changes, CHANGES_SCHEMA),
        **extra,
    )
