"""The prediction endpoints' door: JSON bodies only, bounded, read whole before BentoML parses them.

Model servers in this stack have had remote-code-execution bugs from deserialising pickled
request bodies, and BentoML picks its deserialiser from the request's media type (it takes
multipart too); refusing every other media type before a route runs keeps that whole class of
input out, and tells a client that sent one why (415). The body is then read here up to the
limit (413 past it) and handed on whole: a body cut off inside BentoML's own read would be
answered as a server fault.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_MEDIA_TYPE = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class PredictionEdge:
    """Plain ASGI, not `@app.middleware("http")`: Starlette's function middleware runs each
    request through a task and two memory streams, which cost a scoring request a tenth of its
    time."""

    def __init__(self, app: ASGIApp, *, path_prefix: str, max_body_bytes: int) -> None:
        self.app = app
        self.path_prefix = path_prefix
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and scope["method"] in _BODY_METHODS
        if not guarded or not str(scope.get("path", "")).startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        media_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if media_type != JSON_MEDIA_TYPE:
            detail = f"request bodies must be {JSON_MEDIA_TYPE}, not {media_type or 'untyped'}"
            await JSONResponse(status_code=415, content={"detail": detail})(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        body = None if declared.isdigit() and int(declared) > self.max_body_bytes else await self._read_body(receive)
        if body is None:
            detail = f"request body larger than {self.max_body_bytes:,} bytes"
            too_large = JSONResponse(status_code=413, content={"detail": detail}, headers={"Connection": "close"})
            await too_large(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the client's disconnect, when it comes

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (the rest is not read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
