"""The little HTTP/1.1 the camera server speaks, as pure functions of bytes.

Request heads are parsed, response heads and MJPEG parts are built, URLs are routed; the
server only reads and writes. ``split_mjpeg_parts`` is the matching client-side parser
(used by the tests, usable by an adapter).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

MAX_HEAD_BYTES = 8192
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}
_ROUTE = re.compile(r"^/cameras/(?P<code>[A-Za-z0-9_-]{1,32})/(?P<kind>snapshot\.jpg|stream\.mjpg)$")


class BadRequest(ValueError):
    """A request head we cannot parse (answered 400)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    version: str
    headers: Mapping[str, str]


def parse_request_head(head: bytes) -> HttpRequest:
    """Parse ``METHOD target HTTP/1.x`` and the header lines (names lower-cased)."""
    lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise BadRequest(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line!r}")
        headers[name.lower()] = value.strip()
    return HttpRequest(method=method, path=unquote(urlsplit(target).path), version=version, headers=headers)


@dataclass(frozen=True)
class Route:
    kind: Literal["index", "snapshot", "stream"]
    code: str | None = None


def route(path: str) -> Route | None:
    """``/cameras`` → index; ``/cameras/{code}/snapshot.jpg`` and ``…/stream.mjpg``."""
    if path.rstrip("/") == "/cameras":
        return Route("index")
    match = _ROUTE.match(path)
    if match is None:
        return None
    return Route("snapshot" if match["kind"] == "snapshot.jpg" else "stream", match["code"])


def response_head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def simple_response(status: int, body: bytes, content_type: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A complete response with a body; the connection closes after it."""
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Connection", "close"),
        *extra,
    ]
    return response_head(status, headers) + body


def stream_head(boundary: str) -> bytes:
    return response_head(
        200,
        [
            ("Content-Type", f"multipart/x-mixed-replace; boundary={boundary}"),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ],
    )


def mjpeg_part(boundary: str, jpeg: bytes, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """``--boundary``, part headers, blank line, the JPEG, CRLF."""
    headers = [("Content-Type", "image/jpeg"), ("Content-Length", str(len(jpeg))), *extra]
    head = f"--{boundary}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + jpeg + b"\r\n"


@dataclass(frozen=True)
class MjpegPart:
    headers: Mapping[str, str]
    body: bytes


def split_mjpeg_parts(buffer: bytes, boundary: str) -> tuple[list[MjpegPart], bytes]:
    """Complete parts at the front of ``buffer`` (each needs a Content-Length) and the rest."""
    delimiter = f"--{boundary}\r\n".encode("latin-1")
    parts: list[MjpegPart] = []
    while True:
        start = buffer.find(delimiter)
        if start < 0:
            return parts, buffer
        head_end = buffer.find(b"\r\n\r\n", start)
        if head_end < 0:
            return parts, buffer[start:]
        headers: dict[str, str] = {}
        for line in buffer[start + len(delimiter) : head_end].decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise ValueError("MJPEG part without Content-Length")
        body_start = head_end + 4
        body_end = body_start + int(headers["content-length"])
        if len(buffer) < body_end:
            return parts, buffer[start:]
        parts.append(MjpegPart(headers=headers, body=buffer[body_start:body_end]))
        buffer = buffer[body_end:]
