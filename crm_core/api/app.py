"""Application factory for the CRM API; the caller supplies the session factory."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from crm_core.api import contacts
from crm_core.errors import NotFoundError


def create_api(session_factory: sessionmaker[Session] | None = None) -> FastAPI:
    """Build the API; a host that opens the database later sets `api.state.session_factory`."""
    api = FastAPI(title="crm-intel CRM API", version="1")
    api.state.session_factory = session_factory
    api.include_router(contacts.router)

    @api.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc), "id": exc.entity_id})

    @api.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return api
