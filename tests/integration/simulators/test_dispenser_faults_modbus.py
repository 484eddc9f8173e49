"""Dispenser faults as a real pymodbus client sees them: exception codes, slow and garbage replies,
refused or mute connections, power loss; and ``run()`` serving alone on a SimClock."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from simulators.clock import ManualClock, SimClock
from simulators.dispenser.config import DispenserConfig
from simulators.dispenser.faults import GarbageKind, OfflineMode
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer, run

pytestmark = pytest.mark.integration

SHORT_TIMEOUT_S = 0.2  # how long a test waits for an answer that must not come


@pytest.fixture
async def server() -> AsyncIterator[DispenserServer]:
    clock = ManualClock()
    model = DispenserModel(DispenserConfig(), start=clock.now())
    async with DispenserServer(model, clock, port=0) as server:
        yield server


@contextlib.asynccontextmanager
async def client_of(server: DispenserServer, timeout: float = 1.0) -> AsyncIterator[AsyncModbusTcpClient]:
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=timeout, retries=0)
    try:
        await client.connect()
        yield client
    finally:
        client.close()


async def answers(server: DispenserServer, timeout: float = SHORT_TIMEOUT_S) -> bool:
    """Does a fresh client get a good answer to an FC03 read?"""
    async with client_of(server, timeout) as client:
        if not client.connected:
            return False
        try:
            response = await client.read_holding_registers(0, count=3, device_id=1)
        except ModbusIOException:
            return False
        return not response.isError() and list(response.registers) == [1, 2, 1]


@pytest.mark.parametrize("code", [4, 6])
async def test_reads_answered_with_an_exception_code(server: DispenserServer, code: int) -> None:
    server.faults.fail_reads(code, count=2)
    async with client_of(server) as client:
        for _ in range(2):
            response = await client.read_holding_registers(100, count=2, device_id=1)
            assert response.isError() and response.exception_code == code
        response = await client.read_holding_registers(100, count=2, device_id=1)
        assert list(response.registers) == [3, 0]
        written = await client.write_registers(190, [7], device_id=1)  # writes are not affected
        assert not written.isError()


async def test_slow_answers_miss_a_short_timeout_and_meet_a_long_one(server: DispenserServer) -> None:
    server.faults.slow_answers(400)
    assert not await answers(server, timeout=0.1)
    server.faults.slow_answers(30)
    assert await answers(server, timeout=2.0)
    assert server.faults.counters.delayed_replies == 2


@pytest.mark.parametrize("kind", list(GarbageKind))
async def test_garbage_replies_are_rejected_by_the_client(server: DispenserServer, kind: GarbageKind) -> None:
    server.faults.garbage_replies(kind, count=1)
    assert not await answers(server)
    assert server.faults.counters.corrupted_replies == 1
    assert await answers(server)


async def test_offline_refusing_connections(server: DispenserServer) -> None:
    async with client_of(server, SHORT_TIMEOUT_S) as connected:
        await server.go_offline(OfflineMode.REFUSE)
        with pytest.raises(ModbusIOException):
            await connected.read_holding_registers(0, count=1, device_id=1)
        async with client_of(server) as late:
            assert not late.connected
    await server.go_online()
    assert await answers(server)


async def test_offline_silent(server: DispenserServer) -> None:
    await server.go_offline(OfflineMode.SILENT)
    assert not await answers(server)
    await server.go_online()
    assert await answers(server)


async def test_power_loss_mutes_the_device_and_keeps_the_transaction(server: DispenserServer) -> None:
    clock = server.clock
    assert isinstance(clock, ManualClock)
    async with client_of(server) as client:
        await client.write_coil(101, True, device_id=1)
        await client.write_registers(190, [1], device_id=1)
        clock.advance(20)
        before = await client.read_holding_registers(106, count=4, device_id=1)
        assert before.registers[1] > 0  # volume low word: fuel flowed
        server.power_off()
    assert not await answers(server)
    clock.advance(60)
    server.power_on()
    async with client_of(server) as client:
        fp = (await client.read_holding_registers(100, count=40, device_id=1)).registers
    assert fp[0] == 3 and fp[2] == 2  # Idle; latest transaction payable
    assert fp[24:28] == list(before.registers)  # the volume and amount metered before the loss
    assert fp[39] == 4  # ended by power loss


async def test_run_serves_alone_until_cancelled() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = asyncio.create_task(run(DispenserConfig(unit_id=7), SimClock(speed=50), port=port))
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)
    for _ in range(50):
        if await client.connect():
            break
        await asyncio.sleep(0.02)
    response = await client.read_holding_registers(0, count=2, device_id=7)
    assert list(response.registers) == [1, 2]
    client.close()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
