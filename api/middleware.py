"""ASGI middleware: request ids and structured request logs, and a cap on request body size."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("pilotmatch.request")


#: A private link's token is a secret (stored only as a hash): logs show the route, not the token.
_PRIVATE_LINK = re.compile(r"^/t/[^/]+")
#: An application's token likewise (its administrators' routes name the application by its number instead).
_APPLICATION_LINK = re.compile(r"^(/apply|/v1/platform-applications)/(?![0-9]+(?:/|$))[^/]+")


def _loggable(path: str) -> str:
    return _APPLICATION_LINK.sub(r"\1/<token>", _PRIVATE_LINK.sub("/t/<token>", path))


class RequestLogMiddleware:
    """Echo (or assign) ``X-Request-ID`` and log method, path, status and duration for every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:128]
        request_id = incoming if incoming and incoming.isprintable() else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": _loggable(scope["path"]),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "request_id": request_id,
                    }
                },
            )


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 problem+json, whether or not Content-Length is sent.

    A body sent without Content-Length (chunked) is counted as it is read. Reading stops with an exception at
    the first byte over the cap; whatever the app then makes of it (FastAPI answers a body it could not read with
    400, a form parser may answer otherwise) is replaced by the 413, unless the app had already started its
    response before it read that far.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        seen = 0
        too_big = False
        app_started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, too_big
            if too_big:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal app_started, rejected
            if too_big and not app_started:
                if not rejected:
                    rejected = True
                    await self._reject(send)
                return
            if message["type"] == "http.response.start":
                app_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if app_started:
                raise  # a response is under way: only closing the connection can end it
            if not rejected:
                rejected = True
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "https://pilotmatch.dev/problems/payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"Request bodies are limited to {self.max_bytes} bytes.",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
