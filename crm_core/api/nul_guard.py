"""Refuse NUL characters at the door.

PostgreSQL text cannot hold NUL (0x00): a NUL in a query parameter or a JSON string would
otherwise reach the driver and fail there as a server error, after validation said yes.
Query strings and paths are checked here; request bodies by `NoNulInput` (schemas).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send


class RejectNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            body = json.dumps({"detail": "the URL contains a NUL character", "field": "query"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 422,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _has_nul(scope: dict[str, Any] | Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    path: str = scope.get("path", "")
    return b"%00" in query or b"\x00" in query or "\x00" in path
