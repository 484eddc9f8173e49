"""A network receipt printer (raw TCP, the JetDirect/"port 9100" way ESC/POS printers take jobs): every
connection is one job, kept as the bytes received until the sender closes. Tests read the jobs back.

    async with ReceiptPrinter() as printer:          # port 0: a free port; printer.target is "host:port"
        ...
        job = await printer.next_job(timeout_s=5)
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

DEFAULT_PORT = 9100


class ReceiptPrinter:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.jobs: list[bytes] = []
        self._arrived: asyncio.Queue[bytes] = asyncio.Queue()
        self._server: asyncio.Server | None = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def _job(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await reader.read()            # until the sender closes: one job
        finally:
            writer.close()
        self.jobs.append(data)
        self._arrived.put_nowait(data)

    async def next_job(self, timeout_s: float = 5.0) -> bytes:
        return await asyncio.wait_for(self._arrived.get(), timeout_s)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._job, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def main(port: int = DEFAULT_PORT) -> None:
    """Run on ``port`` until stopped, reporting each job's size."""
    async with ReceiptPrinter("0.0.0.0", port) as printer:   # noqa: S104 - a simulator on the station's LAN
        seen = 0
        while True:
            job = await printer.next_job(timeout_s=3600)
            seen += 1
            print(f"job {seen}: {len(job)} bytes", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
