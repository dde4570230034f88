"""Importing contacts: the record import pipeline with the contact's fields and its own loader.

Rows are checked a column at a time like every other kind; people are matched by external id,
email, phone and name (see contact_matching), so importing the same file twice adds nothing.
The whole import is one transaction in the caller's unit of work: either every good row lands
or (on a crash) none does. Bad rows never stop good ones; each is reported with its row
number, field, reason and cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import polars as pl

from crm_core.auth.principal import Principal
from crm_core.entities import Contact
from crm_core.errors import ForbiddenError
from crm_core.imports.bulk_records import ImportMapping, OneOf, Progress, RecordKind, import_records
from crm_core.imports.contact_loading import contact_loader
from crm_core.imports.record_kinds import RECORD_KINDS
from crm_core.imports.typed_columns import FieldType, ImportField
from crm_core.schemas.imports import ImportReport
from crm_core.schemas.records import LifecycleStage
from crm_core.services.person_guard import may_readd_erased
from crm_core.unit_of_work import UnitOfWork

CONTACT_FIELDS = {
    "external_id": ImportField(max_length=120, description="the person's id in the system they came from"),
    "first_name": ImportField(max_length=100),
    "last_name": ImportField(max_length=100),
    "email": ImportField(FieldType.EMAIL, max_length=320),
    "phone": ImportField(FieldType.PHONE),
    "address": ImportField(max_length=500),
    "notes": ImportField(max_length=5000),
    "lifecycle_stage": ImportField(FieldType.CHOICE, choices=tuple(stage.value for stage in LifecycleStage)),
    "account": ImportField(max_length=200, description="account name; created if new"),
    "owner_email": ImportField(FieldType.EMAIL, max_length=320, description="the owning user's email"),
    "created_at": ImportField(FieldType.TIMESTAMP),
}
# A file must feed at least one field that says who a person is, and each row must give one.
SOMEONE = OneOf(
    ("first_name", "last_name", "email", "external_id"), says="a name, an email or an external id", at="row"
)


def contact_kind(*, allow_erased: bool = False) -> RecordKind:
    return RecordKind(
        name="contacts",
        entity="contact",
        model=Contact,
        fields=CONTACT_FIELDS,
        loader=contact_loader(allow_erased),
        one_of=(SOMEONE,),
        not_in_future=("created_at",),
        custom_fields_of="contact",
    )


def import_contacts(
    uow: UnitOfWork,
    principal: Principal,
    frame: pl.DataFrame,
    *,
    mapping: Mapping[str, str] | ImportMapping | None = None,
    source: str,
    now: datetime,
    allow_erased: bool = False,
    on_progress: Progress | None = None,
) -> ImportReport:
    """`mapping`: field -> column pairs, or a mapping file's columns and per-field options."""
    if allow_erased and not may_readd_erased(principal):
        raise ForbiddenError("only an administrator may re-load people erased on request")
    chosen = mapping if isinstance(mapping, ImportMapping) else ImportMapping(dict(mapping or {}))
    return import_records(
        uow,
        principal,
        contact_kind(allow_erased=allow_erased),
        frame,
        mapping=chosen,
        source=source,
        now=now,
        on_progress=on_progress,
    )


def import_kind(
    uow: UnitOfWork,
    principal: Principal,
    kind: str,
    frame: pl.DataFrame,
    *,
    mapping: ImportMapping,
    source: str,
    now: datetime,
    allow_erased: bool = False,
) -> ImportReport:
    """A file of any importable kind by name: contacts under their own rules (people erased on
    request), every other kind by its record kind."""
    if kind == "contacts":
        return import_contacts(
            uow, principal, frame, mapping=mapping, source=source, now=now, allow_erased=allow_erased
        )
    return import_records(uow, principal, RECORD_KINDS[kind], frame, mapping=mapping, source=source, now=now)
