"""Gas detectors over Modbus RTU on a pty, driven by a real pymodbus serial client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from simulators.clock import ManualClock, SimClock
from simulators.gas_detector import DetectorConfig, DetectorStatus, GasDetectorLineConfig, GasDetectorServer
from simulators.gas_detector.registers import decode_ascii

pytestmark = pytest.mark.integration

TIMEOUT_S = 0.3
CONFIG = GasDetectorLineConfig(
    name="test-line",
    detectors=(
        DetectorConfig(unit_id=1, gas_name="CH4", warmup_s=0.0, noise_pct_lel=0.0),
        DetectorConfig(unit_id=2, gas_name="C3H8", lel_basis_vol_pct=2.1, warmup_s=0.0, noise_pct_lel=0.0),
    ),
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def server(clock: ManualClock) -> AsyncIterator[GasDetectorServer]:
    async with GasDetectorServer(CONFIG, clock, tcp_port=0) as running:
        yield running


@pytest.fixture
async def client(server: GasDetectorServer) -> AsyncIterator[AsyncModbusSerialClient]:
    serial_client = AsyncModbusSerialClient(server.slave_path, baudrate=9600, timeout=TIMEOUT_S, retries=0)
    assert await serial_client.connect()
    yield serial_client
    serial_client.close()


async def registers(client: AsyncModbusSerialClient, unit: int, address: int = 0, count: int = 17) -> list[int]:
    reply = await client.read_holding_registers(address, count=count, device_id=unit)
    assert not reply.isError(), reply
    return list(reply.registers)


async def test_two_detectors_share_the_line(client: AsyncModbusSerialClient) -> None:
    one, two = await registers(client, 1), await registers(client, 2)
    assert (one[11], two[11]) == (1, 2)
    assert (decode_ascii(one[12:16]), decode_ascii(two[12:16])) == ("CH4", "C3H8")
    assert (one[7], two[7]) == (500, 210)
    input_regs = await client.read_input_registers(0, count=17, device_id=2)
    assert input_regs.registers == two


async def test_a_leak_shows_on_the_detector_that_sees_it(
    client: AsyncModbusSerialClient, server: GasDetectorServer, clock: ManualClock
) -> None:
    server.start_leak(1, peak_pct_lel=60.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    clock.advance(60.0)
    concentration, status = await registers(client, 1, count=2)
    assert concentration == pytest.approx(600, abs=2)
    assert status == 0x0006  # AL1 | AL2
    assert await registers(client, 2, count=2) == [0, 0]


async def test_write_setpoints_and_read_them_back(client: AsyncModbusSerialClient, server: GasDetectorServer) -> None:
    single = await client.write_register(2, 200, device_id=2)
    assert not single.isError() and single.registers == [200]
    both = await client.write_registers(2, [150, 300], device_id=1)
    assert not both.isError()
    assert await registers(client, 1, address=2, count=2) == [150, 300]
    assert await registers(client, 2, address=2, count=2) == [200, 500]
    assert server.detector(1).settings.al2_pct_lel == 30.0


async def test_bad_writes_answer_exceptions_and_change_nothing(client: AsyncModbusSerialClient) -> None:
    too_high = await client.write_register(2, 300, device_id=1)  # AL1 30 % LEL
    assert too_high.isError() and too_high.exception_code == ExcCodes.ILLEGAL_VALUE
    read_only = await client.write_registers(0, [0, 0, 100], device_id=1)
    assert read_only.isError() and read_only.exception_code == ExcCodes.ILLEGAL_ADDRESS
    beyond = await client.read_holding_registers(10, count=10, device_id=1)
    assert beyond.isError() and beyond.exception_code == ExcCodes.ILLEGAL_ADDRESS
    coils = await client.read_coils(0, count=1, device_id=1)
    assert coils.isError() and coils.exception_code == ExcCodes.ILLEGAL_FUNCTION
    assert await registers(client, 1, address=2, count=2) == [250, 500]


async def test_reset_command_clears_a_latched_alarm_once_gas_is_gone(
    client: AsyncModbusSerialClient, server: GasDetectorServer, clock: ManualClock
) -> None:
    server.start_leak(1, peak_pct_lel=60.0, rise_s=0.0, hold_s=60.0, fall_s=0.0)
    clock.advance(30.0)
    early = await client.write_register(6, 1, device_id=1)  # gas still present: ignored
    assert not early.isError()
    clock.advance(200.0)
    assert await registers(client, 1, count=2) == [0, 0x0044]  # AL2 | LATCHED
    await client.write_register(6, 1, device_id=1)
    assert await registers(client, 1, count=2) == [0, 0]


async def test_unaddressed_unit_stays_silent(client: AsyncModbusSerialClient, server: GasDetectorServer) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=9)
    assert server.counters.not_addressed == 1
    assert await registers(client, 1, count=1) == [0]


async def test_corrupted_crc_is_an_error_for_the_client(
    client: AsyncModbusSerialClient, server: GasDetectorServer
) -> None:
    server.faults.corrupt_crc(2)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=2, device_id=2)
    assert await registers(client, 1, count=1) == [0]  # the other unit is unaffected
    server.faults.clear(2)
    assert await registers(client, 2, count=1) == [0]


async def test_offline_garbage_and_exception_faults(client: AsyncModbusSerialClient, server: GasDetectorServer) -> None:
    server.faults.offline(1)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=1)
    assert server.counters.suppressed == 1
    server.faults.clear(1)
    server.faults.garbage(1)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=1)
    server.faults.clear(1)
    server.faults.exception(1, ExcCodes.DEVICE_BUSY)
    busy = await client.read_holding_registers(0, count=1, device_id=1)
    assert busy.isError() and busy.exception_code == ExcCodes.DEVICE_BUSY
    server.faults.exception(1, None)
    assert await registers(client, 1, count=1) == [0]


async def test_slow_answers_within_and_beyond_the_client_timeout(
    client: AsyncModbusSerialClient, server: GasDetectorServer
) -> None:
    server.faults.slow(2, 0.1)
    assert await registers(client, 2, count=1) == [0]
    server.faults.slow(2, TIMEOUT_S + 0.2)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=2)
    assert server.counters.answered == 1  # the late answer is still on its way


async def test_sensor_fault_reads_the_fault_value(client: AsyncModbusSerialClient, server: GasDetectorServer) -> None:
    server.faults.probe_out(2)
    assert await registers(client, 2, count=2) == [0xFFFF, 0x0018]
    assert await registers(client, 2, address=9, count=1) == [2]


async def test_client_at_the_wrong_baud_rate_hears_nothing(server: GasDetectorServer) -> None:
    wrong = AsyncModbusSerialClient(server.slave_path, baudrate=19200, timeout=TIMEOUT_S, retries=0)
    assert await wrong.connect()
    try:
        with pytest.raises(ModbusIOException):
            await wrong.read_holding_registers(0, count=1, device_id=1)
    finally:
        wrong.close()
    assert server.counters.requests == 0 and server.counters.discarded_bytes == 8


async def test_broadcast_write_reaches_every_detector_without_answer(
    client: AsyncModbusSerialClient, server: GasDetectorServer
) -> None:
    await client.write_register(4, 50, device_id=0, no_response_expected=True)
    await asyncio.sleep(0.05)
    assert [server.detector(unit).settings.hysteresis_pct_lel for unit in (1, 2)] == [5.0, 5.0]
    assert server.counters.answered == 0 and server.counters.broadcasts == 1


async def test_rtu_over_tcp_reaches_the_same_detectors(server: GasDetectorServer) -> None:
    address = server.tcp_address
    assert address is not None
    tcp = AsyncModbusTcpClient(address[0], port=address[1], framer=FramerType.RTU, timeout=TIMEOUT_S, retries=0)
    assert await tcp.connect()
    try:
        reply = await tcp.read_holding_registers(11, count=1, device_id=2)
        assert reply.registers == [2]
        with pytest.raises(ModbusIOException):
            await tcp.read_holding_registers(0, count=1, device_id=3)
    finally:
        tcp.close()


async def test_ticker_steps_the_physics_on_a_running_clock() -> None:
    clock = SimClock(speed=600.0)
    async with GasDetectorServer(CONFIG, clock) as running:
        running.start_leak(2, peak_pct_lel=30.0, rise_s=0.0, hold_s=3600.0, fall_s=0.0)
        for _ in range(40):  # no requests: only the ticker moves the detectors
            await asyncio.sleep(0.05)
            if running.detector(2).time_s > 60.0:
                break
        assert running.detector(2).time_s > 60.0
        assert DetectorStatus.AL1 in running.detector(2).status
