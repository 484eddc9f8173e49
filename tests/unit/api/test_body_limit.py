"""The request body limit as an ASGI middleware, driven by hand: what it lets through and what it refuses."""

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from control_api.limits import BodyLimit

LIMIT = 100


class _Reader:
    """An app that reads the whole body and answers 200 with its length, as a route does."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


async def _exchange(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes, _Reader, int]:
    """(status, body, the app, chunks the client had to hand over)."""
    app = _Reader()
    given = 0

    async def receive() -> Message:
        nonlocal given
        given += 1
        chunk = chunks[given - 1] if given <= len(chunks) else b""
        return {"type": "http.request", "body": chunk, "more_body": given < len(chunks)}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await BodyLimit(app, max_bytes=LIMIT)(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), app, given


@pytest.mark.parametrize(("headers", "chunks", "status", "chunks_read"), [
    ([(b"content-length", b"100")], [b"x" * 100], 200, 1),                # at the limit
    ([(b"content-length", b"101")], [b"x" * 101], 413, 0),                # declared over: nothing read
    ([(b"content-length", b"18350080")], [], 413, 0),
    ([], [b"x" * 60, b"x" * 40], 200, 2),                                  # chunked, at the limit
    ([], [b"x" * 60, b"x" * 41, b"x" * 1000], 413, 2),                     # chunked: stops at the chunk past it
    ([(b"content-length", b"nonsense")], [b"x" * 10] * 20, 413, 11),      # an unreadable length is counted too
])
async def test_body_limit(headers: list[tuple[bytes, bytes]], chunks: list[bytes], status: int,
                          chunks_read: int) -> None:
    got, body, app, given = await _exchange(headers, chunks)
    assert (got, given) == (status, chunks_read)
    if status == 413:
        assert "请求体过大" in json.loads(body)["detail"] and f"{LIMIT} bytes" in json.loads(body)["detail"]
        assert json.loads(body)["type"] == "https://forecourt.dev/problems/too-large"   # RFC 9457, as every error
        assert app.called is (chunks_read > 0)
    else:
        assert int(body) == sum(len(c) for c in chunks)


async def test_websockets_pass_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> Message:
        return {}

    async def ignore(message: Message) -> None:
        return None

    await BodyLimit(app, max_bytes=LIMIT)({"type": "websocket", "headers": []}, nothing, ignore)
    assert seen == ["websocket"]


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/stations/demo-01/face-payments", 200),      # a terminal's frame: up to 2 MiB (UPLOAD_SUFFIXES)
    ("/api/v1/faces/identify", 200),                       # a photo: up to 8 MiB (UPLOAD_LIMITS)
    ("/api/v1/stations/demo-01/payments", 413),            # everything else keeps the default
])
async def test_photo_routes_take_more(path: str, status: int) -> None:
    app, sent = _Reader(), []
    size = 200 * 1024

    async def receive() -> Message:
        return {"type": "http.request", "body": b"x" * size, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    declared = [(b"content-length", str(size).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": path, "headers": declared}
    await BodyLimit(app)(scope, receive, send)
    assert sent[0]["status"] == status
