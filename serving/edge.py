"""The server's own pages, closed: BentoML's root page is not ours to serve.

BentoML answers `/` with its Swagger page, which loads Google Tag Manager and fonts from the
internet, and sets no Content-Security-Policy on anything it serves itself. Here `/` sends a
person to the web app, and every response the server makes without a policy of its own gets a
strict one (nothing but this origin), so no page the server hands out can run a third-party
script.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_core.web import ORIGIN_ONLY_HEADERS


class ServerEdge:
    def __init__(self, app: ASGIApp, *, home_path: str) -> None:
        self.app = app
        self.home_path = home_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") in ("/", "/index.html", "/docs"):
            await RedirectResponse(self.home_path, status_code=303)(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ORIGIN_ONLY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_policy)
