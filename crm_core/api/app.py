"""Application factory for the CRM API; the caller supplies the session factory and settings."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crm_core.api import (
    accounts,
    activities,
    auth,
    contacts,
    custom_fields,
    deals,
    exports,
    imports,
    jobs,
    orders,
    privacy,
    products,
    segments,
    tickets,
    users,
)
from crm_core.api.abandoned import StopWorkOfAbandonedRequests
from crm_core.api.body_limit import (
    MAX_JSON_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    MULTIPART_ALLOWANCE,
    BodyLimit,
    LimitRequestBody,
)
from crm_core.api.deps import PUBLIC
from crm_core.api.nul_guard import RejectNulMiddleware
from crm_core.api.server_errors import ContainServerErrors
from crm_core.db import is_statement_timeout
from crm_core.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    LoginThrottledError,
    NotFoundError,
    ValidationFailedError,
)
from crm_core.jobs.queue import QueueUnavailableError
from crm_core.schemas.errors import ERROR_RESPONSES
from crm_core.settings import CoreSettings


def create_api(session_factory: sessionmaker[Session] | None = None, settings: CoreSettings | None = None) -> FastAPI:
    """Build the API without touching the environment or the database: a host that opens them
    later sets `api.state.session_factory` and `api.state.settings` (read on first use if unset)."""
    # No HTML docs: FastAPI's pages load Swagger UI from a CDN (a third-party script); the
    # OpenAPI document stays at /openapi.json.
    api = FastAPI(title="crm-intel CRM API", version="1", docs_url=None, redoc_url=None)
    api.state.session_factory = session_factory
    api.state.settings = settings
    api.state.job_queue = None  # built from the settings on first use (see deps.job_queue)
    routers = (auth, contacts, accounts, deals, activities, tickets, products, orders)
    for module in (*routers, imports, jobs, exports, privacy, custom_fields, segments, users):
        api.include_router(module.router, responses=ERROR_RESPONSES)
    install_error_handlers(api)
    api.add_middleware(StopWorkOfAbandonedRequests)
    api.add_middleware(RejectNulMiddleware)
    api.add_middleware(ContainServerErrors)
    api.add_middleware(
        LimitRequestBody,
        default_bytes=MAX_JSON_BODY_BYTES,
        exceptions=[BodyLimit("/imports/", MAX_UPLOAD_BYTES + MULTIPART_ALLOWANCE)],
    )

    @api.get("/health", include_in_schema=False, openapi_extra=PUBLIC)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return api


def install_error_handlers(api: FastAPI) -> None:
    """Map crm_core's domain errors to HTTP, for this API and any app that reuses its auth."""

    @api.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc), "id": exc.entity_id})

    @api.exception_handler(AuthenticationError)
    async def unauthenticated(_request: Request, exc: AuthenticationError) -> JSONResponse:
        return JSONResponse(status_code=401, content={"detail": str(exc)}, headers={"WWW-Authenticate": "Bearer"})

    @api.exception_handler(ForbiddenError)
    async def forbidden(_request: Request, exc: ForbiddenError) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    @api.exception_handler(LoginThrottledError)
    async def throttled(_request: Request, exc: LoginThrottledError) -> JSONResponse:
        return JSONResponse(
            status_code=429, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after_seconds)}
        )

    @api.exception_handler(ConflictError)
    async def conflict(_request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc), "field": exc.field})

    @api.exception_handler(OperationalError)
    async def database_trouble(_request: Request, exc: OperationalError) -> JSONResponse:
        if not is_statement_timeout(exc):
            raise exc
        detail = "the query ran past the server's time limit and was stopped; narrow it and try again"
        return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": "5"})

    @api.exception_handler(QueueUnavailableError)
    async def queue_down(_request: Request, exc: QueueUnavailableError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)}, headers={"Retry-After": "30"})

    @api.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": validation_details(exc)})

    @api.exception_handler(ValidationFailedError)
    async def invalid(_request: Request, exc: ValidationFailedError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc), "field": exc.field})


MAX_REPORTED_ERRORS = 20


def validation_details(exc: RequestValidationError) -> list[dict[str, object]]:
    """Where and why a request was refused, without echoing what was sent: FastAPI's default
    body quotes every invalid input whole (a 10 MB field came back as a 10 MB answer), and
    inputs can be personal data or not even serialisable (NaN)."""
    return [
        {
            "loc": [part if isinstance(part, int) else str(part)[:100] for part in error["loc"]],
            "msg": str(error["msg"])[:300],
            "type": error["type"],
        }
        for error in exc.errors()[:MAX_REPORTED_ERRORS]
    ]
