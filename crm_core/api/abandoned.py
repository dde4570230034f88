"""Work of a request whose client has gone stops: its database statements are cancelled.

A sync route runs in a worker thread and never hears that its client disconnected; a slow
query then ran on to the statement limit (or, before there was one, for minutes) for nobody,
and a client retrying on a timeout stacked one such query per try. Here the request's messages
pass through a buffer while a task listens for the disconnect; on it, unless the answer has
already gone out, the request's lifetime is abandoned (see crm_core.request_lifetime), which
stops its statements.

A body chunk is read only once the route took the one before, so an upload is never read ahead.
"""

from __future__ import annotations

import asyncio
import contextlib

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_core import request_lifetime

# Stands in the buffer where a message would be, when the outer receive raised instead.
FAILED: Message = {"type": "crm.receive_failed"}


class StopWorkOfAbandonedRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lifetime, token = request_lifetime.begin()
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        taken = asyncio.Event()
        state = {"answered": False, "closed": False}

        failures: list[BaseException] = []

        async def route_receive() -> Message:
            if state["closed"] and inbox.empty():
                if failures:
                    raise failures[0]
                return {"type": "http.disconnect"}
            message = await inbox.get()
            taken.set()
            if message is FAILED:
                raise failures[0]  # e.g. a body past its size limit: the route must hear it
            return message

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                state["answered"] = True
            await send(message)

        async def listen() -> None:
            while True:
                try:
                    message = await receive()
                except Exception as error:  # raised by an outer layer's receive: hand it on
                    failures.append(error)
                    inbox.put_nowait(FAILED)
                    state["closed"] = True
                    return
                taken.clear()
                if message["type"] == "http.disconnect":
                    if not state["answered"]:
                        # Cancelling is a round trip to PostgreSQL: off the event loop.
                        await anyio.to_thread.run_sync(lifetime.abandon)
                    inbox.put_nowait(message)
                    state["closed"] = True
                    return
                inbox.put_nowait(message)
                if message.get("more_body", False):
                    await taken.wait()  # the next chunk is read once the route took this one

        listener = asyncio.create_task(listen())
        try:
            await self.app(scope, route_receive, tracked_send)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            request_lifetime.end(token)
