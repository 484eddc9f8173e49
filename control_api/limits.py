"""A size limit on every request body, answered 413 before the body is read into memory.

A declared ``Content-Length`` over the limit is refused before the route runs; a body without one
(chunked) is counted as it arrives and refused as soon as it passes the limit, so at most the limit
plus one chunk is ever held. The default (64 KiB) is far above any command or form the API takes.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_api.errors import problem
from control_api.metrics import REFUSED

MAX_BODY_BYTES = 64 * 1024
#: Routes that take a photo upload, by path prefix, and their limit (a photo of at most 8 MiB and its form).
UPLOAD_LIMITS: dict[str, int] = {"/api/v1/faces/": 8 * 1024 * 1024 + MAX_BODY_BYTES}
#: Routes that take a photo upload under a station's path, by path ending: a terminal's frame (face payment).
UPLOAD_SUFFIXES: dict[str, int] = {"/face-payments": 2 * 1024 * 1024 + MAX_BODY_BYTES}


def _too_large(limit: int) -> str:
    return f"请求体过大，上限 {limit} 字节 (request body too large; the limit is {limit} bytes)"


class BodyTooLarge(HTTPException):
    """Raised from ``receive``; an HTTPException, so FastAPI's body parsing passes it on as it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, _too_large(limit))


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware: the limit for every HTTP route (WebSocket messages are not request bodies)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((n for prefix, n in UPLOAD_LIMITS.items() if scope["path"].startswith(prefix)),
                     next((n for suffix, n in UPLOAD_SUFFIXES.items() if scope["path"].endswith(suffix)),
                          self.max_bytes))
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            REFUSED.labels("body-too-large").inc()
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    REFUSED.labels("body-too-large").inc()
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await problem(status.HTTP_413_CONTENT_TOO_LARGE, _too_large(limit))(scope, receive, send)
