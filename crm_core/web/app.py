"""The web app factory: pages for reps, marketers and data scientists, with the API's rules.

Every page takes the signed-in principal and calls the same services as the API, so what a
role may see on a page is exactly what it may read through the API. Responses carry a strict
Content-Security-Policy (no inline script or style), so even a missed escape could not run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crm_core.api.abandoned import StopWorkOfAbandonedRequests
from crm_core.api.body_limit import LimitRequestBody
from crm_core.api.server_errors import ContainServerErrors
from crm_core.db import is_statement_timeout
from crm_core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailedError
from crm_core.jobs.queue import QueueUnavailableError
from crm_core.settings import CoreSettings
from crm_core.web.pages import auth, contacts, home, jobs, records, segments
from crm_core.web.session import CsrfError, LoginRequiredError, login_url
from crm_core.web.templating import Pages, pages_of

WEB_PREFIX = "/app"
STATIC = Path(__file__).parent / "static"
# Nothing but this origin, never framed: the policy every response of the server carries (the
# server sets it on what BentoML serves itself; see serving.edge).
ORIGIN_ONLY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Pages also hold personal data: no browser or proxy keeps a copy.
SECURITY_HEADERS = {**ORIGIN_ONLY_HEADERS, "Cache-Control": "no-store"}


# Pages post small forms (sign-in, segment rules, model actions).
MAX_FORM_BODY_BYTES = 256 * 1024


def create_web_app(
    session_factory: sessionmaker[Session] | None = None,
    settings: CoreSettings | None = None,
    *,
    prefix: str = WEB_PREFIX,
    routers: Sequence[APIRouter] = (),
    template_dirs: Sequence[Path] = (),
) -> FastAPI:
    """Build the pages; the host mounts the app at `prefix` and may add routers of its own
    (the model pages live with serving) whose templates extend this app's layout."""
    web = FastAPI(title="crm-intel web", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.session_factory = session_factory
    web.state.settings = settings
    web.state.pages = Pages(prefix, template_dirs)
    for module in (auth, home, contacts, records, segments, jobs):
        web.include_router(module.router)
    for router in routers:
        web.include_router(router)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_pages(web, prefix)
    web.add_middleware(StopWorkOfAbandonedRequests)
    web.add_middleware(ContainServerErrors)
    web.add_middleware(LimitRequestBody, default_bytes=MAX_FORM_BODY_BYTES)

    @web.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return web


def _install_error_pages(web: FastAPI, prefix: str) -> None:
    def page(request: Request, status: int, title: str, message: str) -> Response:
        return pages_of(request).render(request, "error.html", status_code=status, title=title, message=message)

    @web.exception_handler(LoginRequiredError)
    async def sign_in(request: Request, exc: LoginRequiredError) -> Response:
        if request.headers.get("Accept", "").startswith("application/json"):
            return Response(status_code=401)
        return RedirectResponse(login_url(prefix, exc.next_path), status_code=303)

    @web.exception_handler(CsrfError)
    async def stale_form(request: Request, exc: CsrfError) -> Response:
        return page(request, 403, "Form expired", str(exc))

    @web.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return page(request, 404, "Not found", f"No {exc.entity} {exc.entity_id} here, or it is not yours to open.")

    @web.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        return page(request, 403, "Not allowed", str(exc))

    @web.exception_handler(ValidationFailedError)
    async def invalid(request: Request, exc: ValidationFailedError) -> Response:
        return page(request, 400, "Please check the form", str(exc))

    @web.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(sorted({str(error["loc"][-1]) for error in exc.errors()}))
        return page(request, 400, "Please check the form", f"These values were not accepted: {fields}.")

    @web.exception_handler(OperationalError)
    async def too_slow(request: Request, exc: OperationalError) -> Response:
        if not is_statement_timeout(exc):
            raise exc
        return page(request, 503, "This took too long", "The query ran past the server's time limit; narrow it.")

    @web.exception_handler(QueueUnavailableError)
    async def queue_down(request: Request, exc: QueueUnavailableError) -> Response:
        return page(request, 503, "Try again shortly", f"{exc}; nothing was started.")

    @web.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> Response:
        return page(request, 409, "Conflict", str(exc))
