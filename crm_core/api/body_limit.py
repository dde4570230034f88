"""Request bodies are bounded at the edge, while they stream in.

Without a bound, a 200 MB anonymous body to the sign-in route was buffered and parsed (23 s,
+0.8 GB) before validation said no. Here a declared `Content-Length` over the limit is refused
before a byte is read, and a body sent without one (chunked) is counted as it arrives and
refused the moment it passes the limit: the route never sees it. JSON routes get a small limit,
file uploads the documented upload cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024
MAX_JSON_BODY_BYTES = 4 * MIB
MAX_UPLOAD_BYTES = 64 * MIB
# Multipart framing around an upload (boundaries, headers, the small form fields beside it).
MULTIPART_ALLOWANCE = MIB


@dataclass(frozen=True)
class BodyLimit:
    """Bodies to paths starting with `path_prefix` may be up to `max_bytes`."""

    path_prefix: str
    max_bytes: int


class _BodyTooLarge(HTTPException):
    """Raised from inside the route's body read: an HTTPException, so FastAPI passes it on as
    a 413 instead of calling it a body it could not parse."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large(limit), headers={"Connection": "close"})


class LimitRequestBody:
    def __init__(self, app: ASGIApp, *, default_bytes: int, exceptions: Sequence[BodyLimit] = ()) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.exceptions = tuple(exceptions)

    def limit_for(self, path: str) -> int:
        for limit in self.exceptions:
            if path.startswith(limit.path_prefix):
                return limit.max_bytes
        return self.default_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(_route_path(scope))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(limit, scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if started:
                raise
            await _refuse(limit, scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point (a mounted app sees its mount in `root_path`)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    detail = {"detail": _too_large(limit), "field": "body"}
    await JSONResponse(status_code=413, content=detail, headers={"Connection": "close"})(scope, receive, send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than this route takes ({limit:,} bytes)"
