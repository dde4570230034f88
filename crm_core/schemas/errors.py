"""The one error shape every route answers with, documented in the OpenAPI schema.

Domain errors carry a sentence and the field at fault; request validation (FastAPI's own 422)
carries a list of problems. Documenting both lets clients, and schema-driven tests, check
every response, not only the happy ones.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detail: str | list[dict[str, Any]]
    field: str | None = None
    id: int | str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the request body is not parseable JSON or form data"},
    401: {"model": ErrorBody, "description": "missing, unknown, expired or revoked credentials"},
    403: {"model": ErrorBody, "description": "the caller's role may never do this"},
    404: {"model": ErrorBody, "description": "no such record, or one outside the caller's reach"},
    409: {"model": ErrorBody, "description": "conflicts with an existing record"},
    422: {"model": ErrorBody, "description": "invalid input: the field at fault and why"},
    429: {"model": ErrorBody, "description": "too many failed logins; see Retry-After"},
}
