"""Exporting contacts for campaigns and hand-offs: in reach, consented, masked, capped, audited.

What leaves the CRM in a file is the riskiest output it has, so every rule of the API applies
here too: the caller's record reach, per-role masking of personal fields, and for marketers an
opt-in consent filter they cannot switch off. CSV cells that a spreadsheet would run as a
formula are defused.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import ColumnElement, select

from crm_core.auth.policy import Action, Role
from crm_core.auth.principal import Principal
from crm_core.entities import Channel, Contact
from crm_core.errors import ValidationFailedError
from crm_core.protection.formulas import defuse_text_columns
from crm_core.protection.masking import disclose
from crm_core.services import audit
from crm_core.services.access import within_reach
from crm_core.services.consent import consented
from crm_core.unit_of_work import UnitOfWork

MAX_EXPORT_ROWS = 100_000
SCHEMA = pl.Schema(
    {
        "id": pl.Int64(),
        "first_name": pl.String(),
        "last_name": pl.String(),
        "email": pl.String(),
        "phone": pl.String(),
        "address": pl.String(),
        "lifecycle_stage": pl.String(),
        "account_id": pl.Int64(),
        "owner_id": pl.Int64(),
        "created_at": pl.Datetime("us"),
    }
)
EXPORT_COLUMNS = tuple(SCHEMA)  # the file's columns are the schema's, in its order
# Roles whose exports are audiences: only people who opted in on the named channel(s).
CONSENT_REQUIRED = frozenset({Role.MARKETER.value})


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


@dataclass(frozen=True)
class ContactExport:
    content: bytes
    rows: int
    truncated: bool
    media_type: str
    filename: str


def export_contacts(
    uow: UnitOfWork,
    principal: Principal,
    *,
    file_format: ExportFormat,
    consent: Sequence[Channel] = (),
    filters: Sequence[ColumnElement[bool]] = (),
    limit: int = MAX_EXPORT_ROWS,
    now: datetime,
) -> ContactExport:
    scope = principal.require("contact", Action.EXPORT)
    if principal.role in CONSENT_REQUIRED and not consent:
        raise ValidationFailedError("consent", "audience exports name the channel(s) people consented to")
    if not 1 <= limit <= MAX_EXPORT_ROWS:
        raise ValidationFailedError("limit", f"must be between 1 and {MAX_EXPORT_ROWS:,}")
    query = select(Contact).where(*filters)
    if consent:
        query = query.where(consented(Contact.id, consent))
    query = within_reach(query, Contact.owner_id, principal, scope).order_by(Contact.id).limit(limit + 1)
    contacts = list(uow.session.scalars(query))
    truncated = len(contacts) > limit
    contacts = contacts[:limit]
    rows = [disclose("contact", {name: getattr(c, name) for name in EXPORT_COLUMNS}, principal.role) for c in contacts]
    frame = pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else SCHEMA.to_frame()
    buffer = io.BytesIO()
    if file_format is ExportFormat.CSV:
        defuse_text_columns(frame).write_csv(buffer)
        media_type = "text/csv; charset=utf-8"
    else:
        frame.write_parquet(buffer)
        media_type = "application/vnd.apache.parquet"
    audit.record(
        uow,
        principal,
        action="contact.export",
        entity="contact",
        changed_fields=[],
        details={
            "rows": len(rows),
            "truncated": truncated,
            "format": file_format.value,
            "consent": [channel.value for channel in consent],
        },
        at=now,
    )
    stamp = now.strftime("%Y%m%dT%H%M%S")
    return ContactExport(buffer.getvalue(), len(rows), truncated, media_type, f"contacts-{stamp}.{file_format.value}")
