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
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            REFUSED.labels("body-too-large").inc()
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    REFUSED.labels("body-too-large").inc()
                    raise BodyTooLarge(self.max_bytes)
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
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(status.HTTP_413_CONTENT_TOO_LARGE, _too_large(self.max_bytes))(scope, receive, send)
