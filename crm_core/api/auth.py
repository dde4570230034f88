"""Login and token routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from crm_core.api.deps import PUBLIC, Caller, Settings, UoW, client_of, policy
from crm_core.clock import utc_now
from crm_core.schemas.common import MAX_PAGE_SIZE, InUtc, NoNulInput, RecordId, UtcDateTime
from crm_core.services.identity import create_integration_token, list_tokens, login, revoke_token

router = APIRouter(tags=["auth"])


class LoginRequest(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    token_id: int
    expires_at: UtcDateTime | None
    role: str


class TokenCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(min_length=1, max_length=50)
    expires_at: InUtc = Field(description="required; at most the server's token_max_days (365 by default) ahead")


class TokenInfo(BaseModel):
    """A token as its owner sees it when listing: never the secret, which is not stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    name: str
    scopes: list[str]
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    revoked_at: UtcDateTime | None


class Me(BaseModel):
    user_id: int | None
    role: str
    team_id: int | None
    email: str
    scopes: list[str]


@router.post("/auth/login", response_model=TokenPublic, openapi_extra=PUBLIC)
def login_route(body: LoginRequest, request: Request, uow: UoW, settings: Settings) -> TokenPublic:
    issued = login(uow, settings, email=body.email, password=body.password, now=utc_now(), client=client_of(request))
    return TokenPublic(
        access_token=issued.token, token_id=issued.token_id, expires_at=issued.expires_at, role=issued.principal.role
    )


@router.get("/auth/me", response_model=Me, openapi_extra=PUBLIC)
def me(caller: Caller) -> Me:
    return Me(
        user_id=caller.user_id,
        role=caller.role,
        team_id=caller.team_id,
        email=caller.label,
        scopes=sorted(caller.scopes),
    )


@router.post(
    "/tokens",
    response_model=TokenPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=policy("api_token", "create"),
)
def create_token(body: TokenCreate, uow: UoW, caller: Caller, settings: Settings) -> TokenPublic:
    issued = create_integration_token(
        uow, caller, settings, name=body.name, scopes=body.scopes, now=utc_now(), expires_at=body.expires_at
    )
    uow.commit()
    return TokenPublic(
        access_token=issued.token, token_id=issued.token_id, expires_at=issued.expires_at, role=issued.principal.role
    )


@router.get("/tokens", response_model=list[TokenInfo], openapi_extra=policy("api_token", "read"))
def read_tokens(
    uow: UoW, caller: Caller, limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE
) -> list[TokenInfo]:
    """Your own tokens, newest first, including expired and revoked ones."""
    return [TokenInfo.model_validate(row) for row in list_tokens(uow, caller, limit=limit)]


@router.delete(
    "/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=policy("api_token", "delete")
)
def delete_token(token_id: RecordId, uow: UoW, caller: Caller) -> None:
    revoke_token(uow, caller, token_id, now=utc_now())
    uow.commit()
