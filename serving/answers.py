"""How a prediction endpoint answers whatever its work raised.

The endpoints are BentoML API methods, outside FastAPI's exception handlers, and BentoML's own
handling would answer a refusal as a generic error (401 and 403 become "Authorization error",
every 5xx one fixed sentence) and log each with its traceback. Here a refusal gets the same
status, body and headers as anywhere in the CRM API, and a fault is contained the same way: a
plain 500 with an incident id, logged by type and place, never by message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
import bentoml
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from crm_core.api.refusals import refusal_for
from crm_core.api.server_errors import contained

Answer = TypeVar("Answer")

# The logger BentoML reports an API method's refused input on (with a traceback, by default).
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"


class WorkLimit:
    """How many requests' blocking work one worker runs at once; the others wait their turn on
    the event loop, holding no thread and no database connection.

    Without a bound every waiting request took a thread (up to 40): they queued on SQLite's
    write gate and on the GIL while holding pooled connections, the pool overflowed and opened
    new ones, and each request cost more CPU the busier the server was.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, work: Callable[[], Answer]) -> Answer:
        """`work` on a thread once one of the `threads` places is free."""
        # Made on first use: a limiter belongs to the event loop it is made in (the worker's).
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)


async def answered(work: Callable[[], Answer], context: bentoml.Context, limit: WorkLimit) -> Answer | Response:
    """`work`'s answer, run off the event loop within `limit`; a refusal or a contained fault
    if it raised.

    An answer's status is set on BentoML's request context too: BentoML stamps the context's
    status on whatever the method returns.
    """
    try:
        return await limit.run(work)
    except HTTPException as refused:
        body = {"detail": refused.detail}
        answer = JSONResponse(status_code=refused.status_code, content=body, headers=refused.headers)
    except Exception as error:  # the endpoint's edge: every error gets an answer
        request = context.request
        answer = refusal_for(error) or contained(error, request.method, request.url.path)
    context.response.status_code = answer.status_code
    return answer


class RefusedInputWithoutTraceback(logging.Filter):
    """BentoML logs a request body it refused as an error with a traceback, which quotes the
    validation errors (parts of what was sent); a refused input is the client's mistake, so it
    is kept as one line naming the route."""

    def filter(self, record: logging.LogRecord) -> bool:
        refused = record.exc_info[1] if record.exc_info else None
        if isinstance(refused, ValidationError):
            record.msg = "refused a request body on %s [%s]: %d validation error(s)"
            record.args = (*tuple(record.args or ())[:2], refused.error_count())
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


def quiet_refused_input() -> None:
    """Install the filter once per process (a worker builds its service once)."""
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    if not any(isinstance(existing, RefusedInputWithoutTraceback) for existing in logger.filters):
        logger.addFilter(RefusedInputWithoutTraceback())
