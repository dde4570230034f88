"""Contact routes. Read-only for now; writes arrive with the full API."""

from __future__ import annotations

from fastapi import APIRouter

from crm_core.api.deps import Caller, UoW, policy
from crm_core.schemas import ContactProfile
from crm_core.services.profiles import get_contact_profile

router = APIRouter(prefix="/contacts", tags=["contacts"])


@router.get("/{contact_id}", response_model=ContactProfile, openapi_extra=policy("contact", "read"))
def read_contact(contact_id: int, uow: UoW, caller: Caller) -> ContactProfile:
    return get_contact_profile(uow, caller, contact_id)
