"""Prediction endpoints read JSON and nothing else.

Model servers in this stack have had remote-code-execution bugs from deserialising pickled
request bodies; refusing every other media type before a route runs keeps that whole class of
input out, and tells a client that sent one why (415) instead of a vague validation error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

JSON_MEDIA_TYPE = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def refuse_non_json_bodies(app: FastAPI) -> None:
    @app.middleware("http")
    async def _json_only(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method in _BODY_METHODS:
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != JSON_MEDIA_TYPE:
                return JSONResponse(
                    status_code=415,
                    content={"detail": f"request bodies must be {JSON_MEDIA_TYPE}, not {media_type or 'untyped'}"},
                )
        return await call_next(request)
