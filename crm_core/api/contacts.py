"""Contact routes. Read-only for now; writes arrive with authentication and authorization."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from crm_core.api.deps import unit_of_work
from crm_core.schemas import ContactProfile
from crm_core.services.profiles import get_contact_profile
from crm_core.unit_of_work import UnitOfWork

router = APIRouter(prefix="/contacts", tags=["contacts"])


@router.get("/{contact_id}", response_model=ContactProfile)
def read_contact(contact_id: int, uow: Annotated[UnitOfWork, Depends(unit_of_work)]) -> ContactProfile:
    return get_contact_profile(uow, contact_id)
