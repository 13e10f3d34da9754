"""``X-Content-Type-Options: nosniff`` on every response the app sends.

A browser that sniffs may read a JSON error that echoes input, or an uploaded-looking body, as HTML or script.
The header goes on at the outermost layer (``PilotMatchAPI`` wraps Starlette's own error middleware), so it is
on JSON, pages, static files, 413s from the body limit and the 500 of an unhandled error alike.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")


class NoSniffMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    headers.append(NOSNIFF)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_nosniff)
