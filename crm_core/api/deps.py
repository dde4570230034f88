"""Request-scoped dependencies shared by the routers: the unit of work, the clock, the caller."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.errors import AuthenticationError
from crm_core.jobs.queue import JobQueue
from crm_core.services.identity import authenticate
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork

bearer = HTTPBearer(auto_error=False, description="a session token from /auth/login or an integration token")


def unit_of_work(request: Request) -> Iterator[UnitOfWork]:
    session_factory = request.app.state.session_factory
    if session_factory is None:
        raise RuntimeError("the CRM API was mounted without a database: set app.state.session_factory")
    with UnitOfWork(session_factory) as uow:
        yield uow


REQUEST_ID_HEADER = "X-Request-ID"


def current_principal(
    request: Request,
    uow: Annotated[UnitOfWork, Depends(unit_of_work)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Deny by default: every route that takes a principal refuses anonymous callers.

    The principal carries the request id (the caller's X-Request-ID, or a fresh one), so audit
    events can be tied to the request that caused them.
    """
    principal = principal_for(uow, request, credentials)
    # Authentication only reads: end its transaction so the connection goes back to the pool.
    # Held to the end of the request, it starved the pool once requests that open their own
    # units of work (scoring, write-back) ran concurrently: 16 in flight timed out at 30 s.
    uow.session.rollback()
    return principal


def principal_for(uow: UnitOfWork, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller behind `credentials`, stamped with the request's id; for routes that
    authenticate inside their own unit of work instead of through `Caller`."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("a bearer token is required")
    principal = authenticate(uow, credentials.credentials, now=utc_now())
    request_id = (request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex)[:64]
    return replace(principal, request_id=request_id)


def client_of(request: Request) -> str | None:
    """The caller's network address, for per-client sign-in throttling (behind a reverse proxy
    this is the proxy's, which then throttles everyone together: have the proxy rate-limit)."""
    return request.client.host if request.client else None


def core_settings(request: Request) -> CoreSettings:
    if request.app.state.settings is None:
        request.app.state.settings = CoreSettings()
    settings: CoreSettings = request.app.state.settings
    return settings


def job_queue(request: Request) -> JobQueue:
    """The queue jobs are put on, built from the settings on first use unless the host set one."""
    if getattr(request.app.state, "job_queue", None) is None:
        request.app.state.job_queue = JobQueue.from_settings(core_settings(request))
    queue: JobQueue = request.app.state.job_queue
    return queue


UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
Queue = Annotated[JobQueue, Depends(job_queue)]
Settings = Annotated[CoreSettings, Depends(core_settings)]
Caller = Annotated[Principal, Depends(current_principal)]
# The bearer credentials alone (declared, so the route documents its security), for routes
# that resolve the principal themselves with `principal_for`.
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def policy(entity: str, action: str) -> dict[str, str]:
    """OpenAPI extension naming the policy entry a route enforces (checked by a test)."""
    return {"x-policy": f"{entity}:{action}"}


PUBLIC = {"x-policy": "public"}
