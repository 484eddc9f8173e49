"""A station's uplink that a test can cut: a TCP relay between one client (the edge node) and the broker.

``cut`` closes every relayed connection and stops listening, so the client sees its link drop and every
reconnect refused, as when the station's line to head office is down; ``restore`` listens again on the same
port. Everything else (head office, the station server) reaches the broker directly and never notices.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from telemetry.contracts.broker import BrokerAddress

CHUNK = 65536


class Uplink:
    def __init__(self, broker: BrokerAddress) -> None:
        self.broker = broker
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> BrokerAddress:
        """The broker as the client behind this uplink reaches it."""
        return replace(self.broker, host="127.0.0.1", port=self.port)

    @property
    def up(self) -> bool:
        return self._server is not None

    async def start(self) -> BrokerAddress:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.address

    async def cut(self) -> None:
        """The line goes down: open connections drop, new ones are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        """The line is back (same port)."""
        if self._server is None:
            await self.start()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection(self.broker.host, self.broker.port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, broker_writer}
        try:
            await asyncio.gather(_pipe(client_reader, broker_writer), _pipe(broker_reader, client_writer))
        finally:
            for writer in (client_writer, broker_writer):
                self._writers.discard(writer)
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
