"""The last line at the edge: an unexpected error becomes a plain 500, logged without values.

Starlette's own handler answers 500 and then re-raises, so the server logs the exception's
message (which can quote a request's personal data) and drops the keep-alive connection, failing
the client's next request too. Here the error is answered as JSON with the request's id, the log
line names the exception type and where it was raised (files and lines, never the message), and
the connection stays usable.
"""

from __future__ import annotations

import logging
import traceback
import uuid

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("crm_intel.server_errors")


class ContainServerErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as error:  # the boundary that must answer, whatever went wrong
            answer = contained(error, scope.get("method"), scope.get("path"))
            if started:
                raise
            await answer(scope, receive, send)


def contained(error: BaseException, method: object, path: object) -> JSONResponse:
    """Log `error` by type and place under a fresh incident id, and the plain 500 that names it."""
    incident = uuid.uuid4().hex[:12]
    where = " <- ".join(
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        for frame in reversed(traceback.extract_tb(error.__traceback__)[-6:])
    )
    logger.error("unhandled %s on %s %s (incident %s) at %s", type(error).__name__, method, path, incident, where)
    body = {"detail": "internal error; the server log has its incident id", "incident": incident}
    return JSONResponse(status_code=500, content=body)
