"""Prediction endpoints read JSON and nothing else.

Model servers in this stack have had remote-code-execution bugs from deserialising pickled
request bodies; refusing every other media type before a route runs keeps that whole class of
input out, and tells a client that sent one why (415) instead of a vague validation error.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

JSON_MEDIA_TYPE = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class JsonOnlyMiddleware:
    """Plain ASGI, not `@app.middleware("http")`: Starlette's function middleware runs each
    request through a task and two memory streams, which cost a scoring request a tenth of its
    time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS:
            media_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
            if media_type != JSON_MEDIA_TYPE:
                detail = f"request bodies must be {JSON_MEDIA_TYPE}, not {media_type or 'untyped'}"
                await JSONResponse(status_code=415, content={"detail": detail})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def refuse_non_json_bodies(app: FastAPI) -> None:
    app.add_middleware(JsonOnlyMiddleware)
