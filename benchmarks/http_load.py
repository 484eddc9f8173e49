"""A lean HTTP/1.1 load client for the benchmarks: one keep-alive connection per simulated client, requests
written as bytes, answers parsed by ``httptools`` (the parser uvicorn itself uses, installed with it).

The load generator shares the machine's cores with the server it measures, so what it spends is taken from
the server: httpx (h11, anyio, its models) costs about as much CPU per request as a lean server route. This
client does only what a benchmark needs (POST/GET with a body and headers, Content-Length answers) so that
the figure is the server's capacity. It is not a general client: no redirects, no chunked requests, no TLS.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httptools


class HttpError(Exception):
    """The connection closed or broke before the answer was complete."""


class _Answering(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"bad answer: {exc}"))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(HttpError(f"connection lost: {exc}"))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        self.host, self.port = host, port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self._protocol: _Answering | None = None

    async def __aenter__(self) -> Connection:
        _, protocol = await asyncio.get_running_loop().create_connection(_Answering, self.host, self.port)
        self._protocol = protocol
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()

    async def request(self, method: str, path: str, json_body: Any = None,
                      headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """(status, body) of one request."""
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            raise HttpError("not connected")
        body = b"" if json_body is None else json.dumps(json_body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        kind = "Content-Type: application/json\r\n" if json_body is not None else ""
        head = f"{method} {path} HTTP/1.1\r\n{self.fixed}{extra}{kind}Content-Length: {len(body)}\r\n\r\n"
        protocol.waiter = asyncio.get_running_loop().create_future()
        protocol.transport.write(head.encode() + body)
        return await protocol.waiter
