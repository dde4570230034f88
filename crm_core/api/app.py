"""Application factory for the CRM API; the caller supplies the session factory and settings."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
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
from crm_core.api.refusals import REFUSED_ERRORS, refusal_for
from crm_core.api.server_errors import ContainServerErrors
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

    async def refused(_request: Request, exc: Exception) -> Response:
        refusal = refusal_for(exc)
        if refusal is None:
            raise exc  # not a refusal: the edge's last line answers 500
        return refusal

    for error in REFUSED_ERRORS:
        api.add_exception_handler(error, refused)

    @api.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": validation_details(exc)})


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
