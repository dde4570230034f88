"""Refuse NUL characters at the door.

PostgreSQL text cannot hold NUL (0x00): a NUL in a query parameter or a JSON string would
otherwise reach the driver and fail there as a server error, after validation said yes.
Query strings and paths are checked here; request bodies by `NoNulInput` (schemas).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class RejectNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            detail = {"detail": "the URL contains a NUL character", "field": "query"}
            await JSONResponse(status_code=422, content=detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: dict[str, Any] | Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    path: str = scope.get("path", "")
    return b"%00" in query or b"\x00" in query or "\x00" in path
