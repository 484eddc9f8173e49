"""The TLS protocol through raw bytes on both transports: TCP (asyncio streams) and the
pseudo-terminal (pyserial at 9600 8N1 in a thread). Every test runs once per transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Protocol

import pytest
import serial

from simulators.clock import ManualClock
from simulators.tank_gauge import TankConfig, TankGaugeConfig, TankGaugeServer
from simulators.tank_gauge.codec import UNKNOWN_COMMAND, FrameSplitter, parse_computer_frame
from simulators.tank_gauge.errors import ChecksumMismatchError, TruncatedFrameError
from simulators.tank_gauge.records import SystemAlarm, TankAlarm, TankReading, TankStatus
from simulators.tank_gauge.reports import (
    decode_alarm_history,
    decode_deliveries,
    decode_inventory,
    decode_leak_tests,
    decode_system_status,
    decode_tank_alarms,
)

pytestmark = pytest.mark.integration

_QUIET = {"height_noise_mm": 0.0, "temperature_noise_c": 0.0, "temperature_c": 16.0,
          "ground_temperature_c": 16.0, "delivery_settle_s": 300.0}
CONFIG = TankGaugeConfig(
    tanks=(
        TankConfig(number=1, product_code="1", label="92#汽油", initial_volume_l=15000.0, **_QUIET),
        TankConfig(number=2, product_code="2", label="0#柴油", capacity_l=50000.0, diameter_mm=2800.0,
                   initial_volume_l=20000.0, density_20=835.0, **_QUIET),
    ),
    model_step_s=5.0,
)


class Line(Protocol):
    async def send(self, data: bytes) -> None: ...
    async def read_frame(self, timeout: float = 3.0) -> bytes: ...
    async def close(self) -> None: ...


class TcpLine:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._buffer = b""

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def read_frame(self, timeout: float = 3.0) -> bytes:
        """Bytes up to the first ETX, or whatever came before the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while b"\x03" not in self._buffer and (left := deadline - loop.time()) > 0:
            try:
                self._buffer += await asyncio.wait_for(self._reader.read(4096), left)
            except TimeoutError:
                break
        head, etx, self._buffer = self._buffer.partition(b"\x03")
        return head + etx

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


class SerialLine:
    def __init__(self, port: serial.Serial) -> None:
        self._port = port

    async def send(self, data: bytes) -> None:
        await asyncio.to_thread(self._port.write, data)

    async def read_frame(self, timeout: float = 3.0) -> bytes:
        def read() -> bytes:
            self._port.timeout = timeout
            return bytes(self._port.read_until(b"\x03"))

        return await asyncio.to_thread(read)

    async def close(self) -> None:
        await asyncio.to_thread(self._port.close)


@pytest.fixture(params=["tcp", "serial"])
async def station(request: pytest.FixtureRequest) -> AsyncIterator[tuple[TankGaugeServer, ManualClock, Line]]:
    clock = ManualClock()
    on_serial = request.param == "serial"
    async with TankGaugeServer(CONFIG, clock, port=0, serial=on_serial) as gauge:
        line: Line
        if on_serial:
            assert gauge.serial_path is not None and gauge.serial_path.startswith("/dev/")
            port = await asyncio.to_thread(serial.Serial, gauge.serial_path, 9600, timeout=1.0)
            line = SerialLine(port)
        else:
            line = TcpLine(*await asyncio.open_connection("127.0.0.1", gauge.port))
        try:
            yield gauge, clock, line
        finally:
            await line.close()


async def _ask(line: Line, command: bytes) -> bytes:
    await line.send(command)
    return await line.read_frame()


async def _inventory(line: Line, tank: int = 0) -> list[TankReading]:
    return decode_inventory(parse_computer_frame(await _ask(line, b"\x01i201%02d" % tank)).data)


async def test_inventory_answer_carries_the_models_reading(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, clock, line = station
    gauge.draw(1, 1234.0)
    clock.advance(600)
    readings = await _inventory(line)
    assert [r.tank for r in readings] == [1, 2]
    for reading in readings:
        model = gauge.reading(reading.tank)
        assert reading.volume_l == pytest.approx(model.volume_l, rel=1e-6)
        assert reading.tc_volume_l == pytest.approx(model.tc_volume_l, rel=1e-6)
        assert reading.height_mm == pytest.approx(model.height_mm, rel=1e-6)
    assert readings[0].volume_l == pytest.approx(15000.0 - 1234.0, abs=0.05)


async def test_several_commands_with_trailing_crlf(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    _, _, line = station
    await line.send(b"\x01i20102\r\n\x01i10100\r\n\x01i20501\r\n")
    codes = [parse_computer_frame(await line.read_frame()).function_code for _ in range(3)]
    assert codes == ["i20102", "i10100", "i20501"]


async def test_unknown_commands_get_9999FF1B(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, _, line = station
    assert await _ask(line, b"\x01i99900") == UNKNOWN_COMMAND
    assert await _ask(line, b"\x01i20109") == UNKNOWN_COMMAND  # no tank 9
    assert await _ask(line, b"\x01i201\r\n") == UNKNOWN_COMMAND  # cut short
    assert gauge.counters["unknown"] == 3
    assert parse_computer_frame(await _ask(line, b"\x01i20101")).tank == 1  # still talking


async def test_display_inventory(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    _, _, line = station
    frame = await _ask(line, b"\x01I20100")
    assert frame.startswith(b"\x01\r\nI20100\r\nJAN 1, 2026  8:00 AM\r\n")
    assert frame.endswith(b"\r\n\r\n\x03")
    lines = frame[1:-1].decode("utf-8").split("\r\n")
    tank_lines = [text for text in lines if text.startswith("  1  ") or text.startswith("  2  ")]
    assert "92#汽油" in tank_lines[0] and tank_lines[0].split()[2] == "15000"
    assert "0#柴油" in tank_lines[1] and tank_lines[1].split()[2] == "20000"


async def test_esc_aborts_the_answer_in_progress_and_the_queue(
    station: tuple[TankGaugeServer, ManualClock, Line],
) -> None:
    gauge, _, line = station
    gauge.faults.slow(0.4)
    await line.send(b"\x01i20100\x01i20200")
    await line.send(b"\x1b")
    await line.send(b"\x01i10100")
    assert parse_computer_frame(await line.read_frame()).function_code == "i10100"
    assert gauge.counters["aborted"] == 2  # the one being answered (or queued) and the one queued


async def test_offline_console_does_not_answer(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, _, line = station
    gauge.faults.offline()
    assert await _ask_quick(line, b"\x01i20100") == b""
    gauge.faults.offline(False)
    assert parse_computer_frame(await _ask(line, b"\x01i10100")).function_code == "i10100"


async def test_slow_answer_comes_late_but_whole(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, _, line = station
    gauge.faults.slow(0.3)
    await line.send(b"\x01i20100")
    assert await line.read_frame(timeout=0.05) == b""
    assert len(decode_inventory(parse_computer_frame(await line.read_frame()).data)) == 2


async def test_corrupt_checksum_on_the_next_answers(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, _, line = station
    gauge.faults.corrupt_checksum(2)
    assert await _ask(line, b"\x01i99900") == UNKNOWN_COMMAND  # has no checksum to spoil
    for _ in range(2):
        with pytest.raises(ChecksumMismatchError):
            parse_computer_frame(await _ask(line, b"\x01i20100"))
    assert len(decode_inventory(parse_computer_frame(await _ask(line, b"\x01i20100")).data)) == 2


async def test_garbage_instead_of_an_answer(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, _, line = station
    gauge.faults.garbage(1)
    junk = await _ask_quick(line, b"\x01i20100")
    assert len(junk) >= 8
    assert b"\x01" not in junk and b"\x03" not in junk
    assert parse_computer_frame(await _ask(line, b"\x01i10100")).function_code == "i10100"


async def test_truncated_answer_then_a_whole_one(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, _, line = station
    gauge.faults.truncate(1)
    partial = await _ask_quick(line, b"\x01i20100")
    assert partial.startswith(b"\x01") and b"\x03" not in partial
    with pytest.raises(TruncatedFrameError):
        parse_computer_frame(partial)
    splitter = FrameSplitter()
    frames = splitter.feed(partial + await _ask(line, b"\x01i10100"))
    assert splitter.dropped == 1
    assert parse_computer_frame(frames[0]).function_code == "i10100"


async def _ask_quick(line: Line, command: bytes) -> bytes:
    await line.send(command)
    return await line.read_frame(timeout=0.3)


async def test_probe_out_shows_in_status_alarms_and_history(
    station: tuple[TankGaugeServer, ManualClock, Line],
) -> None:
    gauge, clock, line = station
    clock.advance(60)
    gauge.faults.probe_out(2)
    tank_2 = (await _inventory(line))[1]
    assert tank_2.status & TankStatus.INVALID_FUEL_HEIGHT
    assert tank_2.volume_l == 0.0
    assert decode_tank_alarms(parse_computer_frame(await _ask(line, b"\x01i20500")).data) == {1: [], 2: [9]}
    status = decode_system_status(parse_computer_frame(await _ask(line, b"\x01i10100")).data)
    assert status == [SystemAlarm(2, int(TankAlarm.PROBE_OUT), 2)]
    history = decode_alarm_history(parse_computer_frame(await _ask(line, b"\x01i20602")).data, gauge.console.tz)
    assert [(event.tank, event.alarm, event.at) for event in history] == [(2, 9, clock.now())]


async def test_stuck_level_hides_sales(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, clock, line = station
    before = (await _inventory(line, 1))[0]
    gauge.faults.stuck_level(1)
    gauge.draw(1, 2500.0)
    clock.advance(600)
    assert (await _inventory(line, 1))[0] == before
    gauge.faults.clear()
    assert (await _inventory(line, 1))[0].volume_l == pytest.approx(before.volume_l - 2500.0, abs=0.05)


async def test_injected_leak_drains_the_tank(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, clock, line = station
    before = (await _inventory(line, 2))[0]
    gauge.faults.leak(2, 5.0)
    clock.advance(4 * 3600)
    after = (await _inventory(line, 2))[0]
    assert before.volume_l - after.volume_l == pytest.approx(20.0, abs=0.05)


async def test_delivery_bit_then_record(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, clock, line = station
    gauge.start_delivery(1, 3000.0, product_temp_c=20.0, rate_l_min=600.0)
    clock.advance(120)
    assert (await _inventory(line, 1))[0].status & TankStatus.DELIVERY_IN_PROGRESS
    assert decode_deliveries(parse_computer_frame(await _ask(line, b"\x01i20201")).data, gauge.console.tz) == []
    clock.advance(180 + 300 + 10)  # rest of the drop, then the 300 s settle
    assert not (await _inventory(line, 1))[0].status & TankStatus.DELIVERY_IN_PROGRESS
    (delivery,) = decode_deliveries(parse_computer_frame(await _ask(line, b"\x01i20200")).data, gauge.console.tz)
    assert delivery.tank == 1
    assert delivery.volume_l == pytest.approx(3000.0, rel=0.002)
    assert delivery.end - delivery.start == timedelta(minutes=10)  # 5 min drop + 5 min settle


async def test_leak_test_report(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    gauge, clock, line = station
    assert parse_computer_frame(await _ask(line, b"\x01i20300")).data == ""  # none finished yet
    gauge.faults.leak(1, 1.0)
    gauge.start_leak_test(1, duration_h=2)
    assert (await _inventory(line, 1))[0].status & TankStatus.LEAK_TEST_IN_PROGRESS
    clock.advance(2 * 3600 + 10)
    (result,) = decode_leak_tests(parse_computer_frame(await _ask(line, b"\x01i20300")).data, gauge.console.tz)
    assert (result.tank, result.duration_h, len(result.hourly_changes_l)) == (1, 2, 2)
    assert result.leak_rate_l_h == pytest.approx(-1.0, rel=0.01)
    assert TankAlarm.LEAK in gauge.tank(1).alarms


async def test_time_of_day_can_be_set(station: tuple[TankGaugeServer, ManualClock, Line]) -> None:
    _, _, line = station
    assert parse_computer_frame(await _ask(line, b"\x01i50100")).timestamp == "2601010800"
    assert parse_computer_frame(await _ask(line, b"\x01s501002601010930")).timestamp == "2601010930"
    assert parse_computer_frame(await _ask(line, b"\x01i20100")).timestamp == "2601010930"
