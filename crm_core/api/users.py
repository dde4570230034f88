"""User administration: admins manage everyone, managers see their team."""

from __future__ import annotations

from fastapi import APIRouter, status

from crm_core.api.deps import Caller, UoW, policy
from crm_core.clock import utc_now
from crm_core.schemas.common import RecordId
from crm_core.schemas.users import UserCreate, UserPublic, UserUpdate
from crm_core.services.users import create_user, list_users, update_user

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic], openapi_extra=policy("user", "read"))
def read_users(uow: UoW, caller: Caller) -> list[UserPublic]:
    return [UserPublic.model_validate(user) for user in list_users(uow, caller)]


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED, openapi_extra=policy("user", "create"))
def add_user(body: UserCreate, uow: UoW, caller: Caller) -> UserPublic:
    user = create_user(
        uow,
        caller,
        email=body.email,
        full_name=body.full_name,
        role=body.role.value,
        password=body.password,
        now=utc_now(),
        team_name=body.team,
    )
    uow.commit()
    return UserPublic.model_validate(user)


@router.patch("/{user_id}", response_model=UserPublic, openapi_extra=policy("user", "update"))
def change_user(user_id: RecordId, body: UserUpdate, uow: UoW, caller: Caller) -> UserPublic:
    changes = body.model_dump(exclude_unset=True)
    if body.role is not None:
        changes["role"] = body.role.value
    user = update_user(uow, caller, user_id, changes=changes, now=utc_now())
    uow.commit()
    return UserPublic.model_validate(user)
