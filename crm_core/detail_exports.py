"""Read-side exports beyond the feature tables: lifecycle stages, order lines and activity
properties, for recommenders and data-set-specific evaluation. Typed frames, pinned shapes."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Engine, Float, select

from crm_core.entities import Activity, Contact, Deal, Order, OrderLine
from crm_core.exports import TIMESTAMP

CONTACT_STAGES_SCHEMA = pl.Schema({"contact_id": pl.Int64(), "lifecycle_stage": pl.String(), "created_at": TIMESTAMP})
ORDER_LINES_SCHEMA = pl.Schema(
    {
        "contact_id": pl.Int64(),
        "order_id": pl.Int64(),
        "ordered_at": TIMESTAMP,
        "order_status": pl.String(),
        "product_id": pl.Int64(),
        "quantity": pl.Float64(),
    }
)
DEAL_OUTCOMES_SCHEMA = pl.Schema(
    {"contact_id": pl.Int64(), "status": pl.String(), "opened_at": TIMESTAMP, "closed_at": TIMESTAMP}
)


def _rows(engine: Engine, query: Any, schema: pl.Schema) -> pl.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def export_contact_stages(engine: Engine) -> pl.DataFrame:
    query = select(Contact.id, Contact.lifecycle_stage, Contact.created_at).order_by(Contact.id)
    return _rows(engine, query, CONTACT_STAGES_SCHEMA)


def export_order_lines(engine: Engine) -> pl.DataFrame:
    """One row per order line with its order's contact, time and status, in time order."""
    query = (
        select(
            Order.contact_id,
            Order.id,
            Order.ordered_at,
            Order.status,
            OrderLine.product_id,
            OrderLine.quantity.cast(Float),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .order_by(Order.contact_id, Order.ordered_at, Order.id, OrderLine.id)
    )
    return _rows(engine, query, ORDER_LINES_SCHEMA)


def export_deal_outcomes(engine: Engine) -> pl.DataFrame:
    query = (
        select(Deal.contact_id, Deal.status, Deal.opened_at, Deal.closed_at)
        .where(Deal.contact_id.is_not(None))
        .order_by(Deal.contact_id, Deal.opened_at, Deal.id)
    )
    return _rows(engine, query, DEAL_OUTCOMES_SCHEMA)


def export_activity_properties(engine: Engine, activity_type: str) -> pl.DataFrame:
    """Activities of one type with their properties as columns (contact_id, occurred_at, ...).

    Properties are free-form JSON: every value comes back as text, for the caller to type.
    """
    query = (
        select(Activity.contact_id, Activity.occurred_at, Activity.properties)
        .where(Activity.type == activity_type)
        .order_by(Activity.occurred_at, Activity.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    keys = sorted({key for _, _, properties in rows for key in (properties or {})})
    columns: dict[str, list[Any]] = {"contact_id": [], "occurred_at": []} | {key: [] for key in keys}
    for contact_id, occurred_at, properties in rows:
        columns["contact_id"].append(contact_id)
        columns["occurred_at"].append(occurred_at)
        for key in keys:
            value = (properties or {}).get(key)
            columns[key].append(None if value is None else str(value))
    schema = pl.Schema({"contact_id": pl.Int64(), "occurred_at": TIMESTAMP} | {key: pl.String() for key in keys})
    return pl.DataFrame(columns, schema=schema)
