"""Request-scoped dependencies shared by the routers: the unit of work, the clock, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.errors import AuthenticationError
from crm_core.services.identity import authenticate
from crm_core.unit_of_work import UnitOfWork

bearer = HTTPBearer(auto_error=False, description="a session token from /auth/login or an integration token")


def unit_of_work(request: Request) -> Iterator[UnitOfWork]:
    session_factory = request.app.state.session_factory
    if session_factory is None:
        raise RuntimeError("the CRM API was mounted without a database: set app.state.session_factory")
    with UnitOfWork(session_factory) as uow:
        yield uow


def current_principal(
    uow: Annotated[UnitOfWork, Depends(unit_of_work)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Deny by default: every route that takes a principal refuses anonymous callers."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("a bearer token is required")
    return authenticate(uow, credentials.credentials, now=utc_now())


UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
Caller = Annotated[Principal, Depends(current_principal)]


def policy(entity: str, action: str) -> dict[str, str]:
    """OpenAPI extension naming the policy entry a route enforces (checked by a test)."""
    return {"x-policy": f"{entity}:{action}"}


PUBLIC = {"x-policy": "public"}
