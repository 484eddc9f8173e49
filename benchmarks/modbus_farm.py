"""A benchmark's device farm: a minimal Modbus TCP responder (FC03) on many ports, values changing every read.

Runs as its own process so that its CPU does not count against the edge node being measured.
Usage: python benchmarks/modbus_farm.py COUNT   (prints the ports it listens on, one line, when ready)
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import sys

_tick = itertools.count()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            header = await reader.readexactly(7)
            tid, pid, length, unit = struct.unpack(">HHHB", header)
            pdu = await reader.readexactly(length - 1)
            if pdu[0] != 3:
                writer.write(struct.pack(">HHHBBB", tid, pid, 3, unit, pdu[0] | 0x80, 1))
                continue
            _, count = struct.unpack(">HH", pdu[1:5])
            base = next(_tick)
            body = struct.pack(f">BB{count}H", 3, count * 2, *((base + i) & 0xFFFF for i in range(count)))
            writer.write(struct.pack(">HHHB", tid, pid, len(body) + 1, unit) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main(count: int) -> None:
    servers = [await asyncio.start_server(_serve, "127.0.0.1", 0) for _ in range(count)]
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for s in servers:
            s.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
