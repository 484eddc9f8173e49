"""The TLS client against a scripted TCP peer: line behaviour the simulator does not produce.

A slow report that keeps coming, a late answer to an earlier command, noise before the answer,
a peer that hangs up: each gives the right answer or the right error, and bad stretches are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from protocol_adapters.readings import BadFrame, DeviceRejected, DeviceUnavailable
from protocol_adapters.tls.client import TlsConnection
from protocol_adapters.tls.codec import UNKNOWN_COMMAND, checksum
from protocol_adapters.tls.reports import decode_inventory

pytestmark = pytest.mark.integration

Script = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


def answer(code: str, data: str) -> bytes:
    head = b"\x01" + (code + "2601151430" + data).encode("ascii") + b"&&"
    return head + f"{checksum(head):04X}".encode("ascii") + b"\x03"


INVENTORY = "011000007" + "4690B800468FAF334633500044E78CCD4141999A41BC000042353333"


@contextlib.asynccontextmanager
async def serve(script: Script) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while command := await reader.read(64):
                await script(command, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def kinds() -> list[str]:
    return []


def connect(port: int, kinds: list[str], timeout: float = 0.3) -> TlsConnection:
    return TlsConnection(host="127.0.0.1", port=port, timeout=timeout, on_bad_frame=kinds.append)


async def test_a_slow_long_answer_is_waited_for_while_it_keeps_coming(kinds: list[str]) -> None:
    async def trickle(command: bytes, writer: asyncio.StreamWriter) -> None:
        frame = answer("i20100", INVENTORY * 3)
        for i in range(0, len(frame), 20):         # ~0.8 s in all, never silent for 0.3 s
            writer.write(frame[i : i + 20])
            await writer.drain()
            await asyncio.sleep(0.05)

    async with serve(trickle) as port:
        connection = connect(port, kinds)
        records = await connection.ask_report("i20100", decode_inventory)
        connection.close()
        assert [r.volume_l for r in records] == [18524.0] * 3 and kinds == []


async def test_a_late_answer_and_noise_before_the_answer_are_dropped_and_counted(kinds: list[str]) -> None:
    async def late_then_right(command: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\r\n" + answer("i10100", "000000") + b"\xfe\xfd noise" + answer("i20100", INVENTORY))

    async with serve(late_then_right) as port:
        connection = connect(port, kinds)
        got = await connection.ask("i20100")
        connection.close()
        assert got.function_code == "i20100" and got.data == INVENTORY
        assert kinds == ["unexpected", "garbage"]


@pytest.mark.parametrize(("reply", "error", "counted"), [
    (answer("i20100", INVENTORY)[:-3] + b"00\x03", BadFrame, ["checksum"]),
    (answer("i20100", INVENTORY)[:70], BadFrame, ["truncated"]),
    (b"\x88\x77\x66\x55", BadFrame, ["garbage"]),
    (answer("i20100", INVENTORY[:-2]), BadFrame, ["malformed"]),    # the report does not add up
    (UNKNOWN_COMMAND, DeviceRejected, []),
    (b"", DeviceUnavailable, []),                                    # silence
])
async def test_bad_replies_raise_the_matching_error(kinds: list[str], reply: bytes, error: type[Exception],
                                                    counted: list[str]) -> None:
    async def reply_once(command: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(reply)

    async with serve(reply_once) as port:
        connection = connect(port, kinds)
        with pytest.raises(error):
            await connection.ask_report("i20100", decode_inventory)
        connection.close()
        assert kinds == counted


async def test_a_peer_that_hangs_up_or_is_not_there_is_unavailable(kinds: list[str]) -> None:
    async def hang_up(command: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with serve(hang_up) as port:
        connection = connect(port, kinds)
        with pytest.raises(DeviceUnavailable, match="closed"):
            await connection.ask("i20100")
    with pytest.raises(DeviceUnavailable):
        await connection.ask("i20100")        # the listener is gone: connection refused


async def test_the_command_carries_the_security_code(kinds: list[str]) -> None:
    received: list[bytes] = []

    async def record(command: bytes, writer: asyncio.StreamWriter) -> None:
        received.append(command)
        writer.write(answer("i20100", ""))

    async with serve(record) as port:
        connection = TlsConnection(host="127.0.0.1", port=port, security_code="ABC123", timeout=0.3)
        assert (await connection.ask("i20100")).data == ""
        connection.close()
    assert received == [b"\x01ABC123i20100"]
