"""Contact routes: list with filters and cursor paging, the profile, create and update."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import ConfigDict, Field
from sqlalchemy import or_

from crm_core.api.custom_fields import CustomFilter
from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import ExternalIdFilter, equal_to, page_request
from crm_core.clock import utc_now
from crm_core.entities import Channel, Contact
from crm_core.errors import ValidationFailedError
from crm_core.protection.lookup import email_lookup, phone_lookup
from crm_core.schemas.common import MAX_PAGE_SIZE, InUtc, NoNulInput, Page, RecordId
from crm_core.schemas.consent import ConsentChange, ConsentPublic
from crm_core.schemas.customer360 import Customer360
from crm_core.schemas.profiles import ContactProfile, ContactPublic, present_contact
from crm_core.schemas.records import ContactCreate, ContactUpdate, LifecycleStage
from crm_core.services.consent import current_consents, record_consent
from crm_core.services.custom_fields import custom_filters
from crm_core.services.customer360 import get_customer_360
from crm_core.services.kinds import CONTACTS
from crm_core.services.owned_records import create_record, list_records, update_record
from crm_core.services.pagination import PageRequest
from crm_core.services.person_guard import person_lookups, refuse_erased_person
from crm_core.services.profiles import get_contact_profile

router = APIRouter(prefix="/contacts", tags=["contacts"])


@router.get("", response_model=Page[ContactPublic], openapi_extra=policy("contact", "read"))
def list_contacts(
    uow: UoW,
    caller: Caller,
    page: Annotated[PageRequest, Depends(page_request)],
    owner_id: RecordId | None = None,
    account_id: RecordId | None = None,
    lifecycle_stage: LifecycleStage | None = None,
    created_after: InUtc | None = None,
    created_before: InUtc | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="name prefix")] = None,
    custom: CustomFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[ContactPublic]:
    filters = equal_to(
        (Contact.external_id, external_id),
        (Contact.owner_id, owner_id),
        (Contact.account_id, account_id),
        (Contact.lifecycle_stage, lifecycle_stage),
    )
    if created_after is not None:
        filters.append(Contact.created_at >= created_after)
    if created_before is not None:
        filters.append(Contact.created_at < created_before)
    if q is not None:
        prefix = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        filters.append(or_(Contact.first_name.ilike(prefix, escape="\\"), Contact.last_name.ilike(prefix, escape="\\")))
    filters.extend(custom_filters(uow, "contact", Contact.custom, custom))
    rows, next_cursor = list_records(uow, caller, CONTACTS, page, filters)
    return Page[ContactPublic](items=[present_contact(row, caller.role) for row in rows], next_cursor=next_cursor)


class ContactLookup(NoNulInput):
    """Exact-match lookup by personal fields, sent in the body so they stay out of URLs and logs."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=320, description="any letter case")
    phone: str | None = Field(default=None, min_length=5, max_length=40, description="any formatting")


@router.post("/lookup", response_model=list[ContactPublic], openapi_extra=policy("contact", "read"))
def lookup_contacts(body: ContactLookup, uow: UoW, caller: Caller) -> list[ContactPublic]:
    if body.email is None and body.phone is None:
        raise ValidationFailedError("email", "give an email or a phone to look up")
    phone_hash = phone_lookup(body.phone)
    if body.phone is not None and phone_hash is None:
        return []  # not a phone number: nothing can match it
    filters = equal_to((Contact.email_hash, email_lookup(body.email)), (Contact.phone_hash, phone_hash))
    page = PageRequest(limit=MAX_PAGE_SIZE, cursor=None, sort="id", descending=False)
    rows, _ = list_records(uow, caller, CONTACTS, page, filters)
    return [present_contact(row, caller.role) for row in rows]


@router.get("/{contact_id}", response_model=ContactProfile, openapi_extra=policy("contact", "read"))
def read_contact(contact_id: RecordId, uow: UoW, caller: Caller) -> ContactProfile:
    return get_contact_profile(uow, caller, contact_id)


@router.get("/{contact_id}/360", response_model=Customer360, openapi_extra=policy("contact", "read"))
def read_customer_360(contact_id: RecordId, uow: UoW, caller: Caller) -> Customer360:
    return get_customer_360(uow, caller, contact_id)


@router.get("/{contact_id}/consents", response_model=list[ConsentPublic], openapi_extra=policy("consent", "read"))
def read_consents(contact_id: RecordId, uow: UoW, caller: Caller) -> list[ConsentPublic]:
    """The current decision per channel; channels never decided are absent (not consented)."""
    return [ConsentPublic.model_validate(row) for row in current_consents(uow, caller, contact_id)]


@router.put("/{contact_id}/consents/{channel}", response_model=ConsentPublic, openapi_extra=policy("consent", "create"))
def change_consent(
    contact_id: RecordId, channel: Channel, body: ConsentChange, uow: UoW, caller: Caller
) -> ConsentPublic:
    row = record_consent(uow, caller, contact_id, channel, body.status, body.source, now=utc_now())
    uow.commit()
    return ConsentPublic.model_validate(row)


@router.post(
    "", response_model=ContactPublic, status_code=status.HTTP_201_CREATED, openapi_extra=policy("contact", "create")
)
def create_contact(body: ContactCreate, uow: UoW, caller: Caller) -> ContactPublic:
    values = body.model_dump(exclude={"allow_erased"}) | {"lifecycle_stage": body.lifecycle_stage.value}
    refuse_erased_person(uow, caller, person_lookups(body.email, body.phone), allow_erased=body.allow_erased)
    contact = create_record(uow, caller, CONTACTS, values, now=utc_now())
    uow.commit()
    return present_contact(contact, caller.role)


@router.patch("/{contact_id}", response_model=ContactPublic, openapi_extra=policy("contact", "update"))
def update_contact(contact_id: RecordId, body: ContactUpdate, uow: UoW, caller: Caller) -> ContactPublic:
    changes = body.model_dump(exclude_unset=True)
    if body.lifecycle_stage is not None:
        changes["lifecycle_stage"] = body.lifecycle_stage.value
    refuse_erased_person(uow, caller, person_lookups(changes.get("email"), changes.get("phone")), allow_erased=False)
    contact = update_record(uow, caller, CONTACTS, contact_id, changes, now=utc_now())
    uow.commit()
    return present_contact(contact, caller.role)
