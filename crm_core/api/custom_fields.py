"""Custom field definitions: everyone may list them, admins add them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from crm_core.api.deps import Caller, UoW, policy
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.schemas.custom_fields import CustomFieldCreate, CustomFieldPublic
from crm_core.services.custom_fields import define_field, definitions_of

router = APIRouter(prefix="/custom-fields", tags=["custom fields"])

# Filters over custom fields, shared by the list routes of the carrier entities.
CustomFilter = Annotated[
    list[str] | None,
    Query(max_length=20, description="name=value, repeatable: records whose custom field equals value"),
]


@router.get("", response_model=list[CustomFieldPublic], openapi_extra=policy("custom_field", "read"))
def list_custom_fields(
    uow: UoW, caller: Caller, entity: Annotated[str, Query(pattern="^(contact|account|deal)$")]
) -> list[CustomFieldPublic]:
    caller.require("custom_field", Action.READ)
    return [CustomFieldPublic.model_validate(d) for d in definitions_of(uow, entity).values()]


@router.post(
    "",
    response_model=CustomFieldPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=policy("custom_field", "create"),
)
def create_custom_field(body: CustomFieldCreate, uow: UoW, caller: Caller) -> CustomFieldPublic:
    definition = define_field(
        uow,
        caller,
        entity=body.entity,
        name=body.name,
        label=body.label,
        field_type=body.type,
        choices=body.choices,
        now=utc_now(),
    )
    uow.commit()
    return CustomFieldPublic.model_validate(definition)
