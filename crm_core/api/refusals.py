"""What each domain error answers over HTTP, written once for every edge that serves people.

The CRM API installs these as its exception handlers; the prediction endpoints (BentoML API
methods, outside FastAPI) call `refusal_for` themselves. Either way a refusal has the same
status, body and headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.responses import JSONResponse

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

STATEMENT_TIMEOUT_DETAIL = "the query ran past the server's time limit and was stopped; narrow it and try again"

Answer = tuple[int, dict[str, object], dict[str, str] | None]  # status, body, headers


def _said(error: Exception, **extra: object) -> dict[str, object]:
    return {"detail": str(error), **extra}


def _timeout(error: OperationalError) -> Answer | None:
    if not is_statement_timeout(error):
        return None  # a database fault, not a refusal
    return 503, {"detail": STATEMENT_TIMEOUT_DETAIL}, {"Retry-After": "5"}


# Each refused error and its answer, in the order they are tried (a subclass before its base).
_ANSWERS: tuple[tuple[type[Any], Callable[[Any], Answer | None]], ...] = (
    (NotFoundError, lambda error: (404, _said(error, id=error.entity_id), None)),
    (AuthenticationError, lambda error: (401, _said(error), {"WWW-Authenticate": "Bearer"})),
    (ForbiddenError, lambda error: (403, _said(error), None)),
    (LoginThrottledError, lambda error: (429, _said(error), {"Retry-After": str(error.retry_after_seconds)})),
    (ConflictError, lambda error: (409, _said(error, field=error.field), None)),
    (OperationalError, _timeout),
    (QueueUnavailableError, lambda error: (503, _said(error), {"Retry-After": "30"})),
    (ValidationFailedError, lambda error: (422, _said(error, field=error.field), None)),
)
REFUSED_ERRORS: tuple[type[Exception], ...] = tuple(kind for kind, _ in _ANSWERS)


def refusal_for(error: Exception) -> JSONResponse | None:
    """The answer to `error`, or None when it is not a refusal (a fault: the edge answers 500)."""
    for kind, answer_to in _ANSWERS:
        if isinstance(error, kind):
            answer = answer_to(error)
            if answer is None:
                return None
            status, body, headers = answer
            return JSONResponse(status_code=status, content=body, headers=headers)
    return None
