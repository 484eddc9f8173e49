"""The dispenser simulator through a real pymodbus client: read state, play the customer, authorise,
watch the delivery, read the transaction record and totalizers, set prices, refused commands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from simulators.clock import ManualClock, SimClock
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from simulators.dispenser.states import FpState, PresetType
from simulators.dispenser.transactions import amount_fen

pytestmark = pytest.mark.integration

U32, U64 = AsyncModbusTcpClient.DATATYPE.UINT32, AsyncModbusTcpClient.DATATYPE.UINT64
UNIT = 3


@dataclass
class Rig:
    clock: ManualClock
    model: DispenserModel
    server: DispenserServer
    client: AsyncModbusTcpClient

    async def read(self, address: int, count: int = 1) -> list[int]:
        response = await self.client.read_holding_registers(address, count=count, device_id=UNIT)
        assert not response.isError(), response
        return list(response.registers)

    async def u32(self, address: int) -> int:
        return int(self.client.convert_from_registers(await self.read(address, 2), U32))

    async def u64(self, address: int) -> int:
        return int(self.client.convert_from_registers(await self.read(address, 4), U64))

    async def write(self, address: int, values: list[int]) -> None:
        response = await self.client.write_registers(address, values, device_id=UNIT)
        assert not response.isError(), response

    async def lift(self, fp: int, nozzle: int, lifted: bool = True) -> None:
        response = await self.client.write_coil(100 * fp + nozzle, lifted, device_id=UNIT)
        assert not response.isError(), response

    async def command(self, fp: int, *registers: int) -> tuple[int, int]:
        """Write B+90.. in one FC16 and return (result, counter)."""
        await self.write(100 * fp + 90, list(registers))
        result, counter = await self.read(100 * fp + 96, 2)
        return result, counter

    async def run_until_idle(self, fp: int = 1, step_s: float = 5.0) -> None:
        for _ in range(100):
            self.clock.advance(step_s)
            if (await self.read(100 * fp))[0] == 3:
                return
        raise AssertionError("fuelling never ended")


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    config = DispenserConfig(unit_id=UNIT, fuelling_points=[
        FuellingPointConfig(nozzles=[NozzleConfig(grade_id=92, price_fen=789, meter_error_pct=0.2),
                                     NozzleConfig(grade_id=95, price_fen=836)]),
        FuellingPointConfig(nozzles=[NozzleConfig(grade_id=10, price_fen=725, max_flow_l_min=120.0)]),
    ])
    clock = ManualClock()
    model = DispenserModel(config, start=clock.now())
    async with DispenserServer(model, clock, port=0) as server:
        client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=1.0, retries=0)
        assert await client.connect()
        yield Rig(clock, model, server, client)
        client.close()


async def test_idle_dispenser_over_modbus(rig: Rig) -> None:
    assert await rig.read(0, 3) == [1, 2, 1]
    assert await rig.u32(4) == int(rig.clock.now().timestamp())
    fp1 = await rig.read(100, 14)
    assert fp1[0:4] == [3, 0, 0, 0]  # Idle, no nozzle, no transaction yet, no error
    assert await rig.read(140, 2) == [92, 0]
    assert await rig.u32(142) == 789
    assert await rig.read(152, 2) == [95, 0]
    assert await rig.read(240, 4) == [10, 0, 0, 725]
    coils = await rig.client.read_coils(100, count=5, device_id=UNIT)
    assert coils.bits[:5] == [False] * 5


async def test_fuelling_with_a_volume_preset_over_modbus(rig: Rig) -> None:
    await rig.lift(1, 1)
    assert (await rig.read(100, 2)) == [4, 1]  # Calling, nozzle 1
    assert (await rig.read(141)) == [1]
    switches = await rig.client.read_discrete_inputs(100, count=3, device_id=UNIT)
    assert switches.bits[:3] == [False, True, False]  # discrete inputs mirror the nozzle switches
    assert await rig.command(1, 1, 1, 0, 2000, 0) == (0, 1)  # authorise, volume preset 20.00 L
    assert (await rig.read(100))[0] == 6  # Started
    assert await rig.read(190, 5) == [0, 0, 0, 0, 0]  # command reads back 0, arguments reset
    volumes = []
    for _ in range(3):
        rig.clock.advance(5)
        state, nozzle = await rig.read(100, 2)
        volume, amount = await rig.u32(106), await rig.u32(108)
        assert (state, nozzle) == (8, 1)
        assert amount == amount_fen(volume, 789)
        assert (await rig.read(110))[0] == 400  # 40.0 L/min
        volumes.append(volume)
    assert 0 < volumes[0] < volumes[1] < volumes[2] < 2000
    await rig.run_until_idle()
    assert await rig.u32(106) == 2000 and await rig.u32(108) == 15780
    assert await rig.read(102) == [2]  # latest transaction payable
    assert await rig.read(111) == [1]
    assert await rig.u32(112) == 1
    # the completed transaction record
    assert await rig.u32(120) == 1
    assert await rig.read(122, 2) == [1, 2]
    assert (await rig.u32(124), await rig.u32(126), await rig.u32(128)) == (2000, 15780, 789)
    started, ended = await rig.u32(130), await rig.u32(132)
    assert started == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())  # the ManualClock's start
    assert ended - started == pytest.approx(rig.model.transactions(1)[-1].ended_at.timestamp() - started, abs=1)
    assert await rig.u64(134) == 2000
    assert await rig.read(138, 2) == [92, 2]  # grade, ended on the preset
    assert (await rig.u64(144), await rig.u64(148)) == (2000, 15780)  # nozzle totalizers
    assert rig.model.delivered_litres(1, 1) == pytest.approx(20.0 / 1.002)  # true volume, meter +0.2 %
    # the POS takes the money
    await rig.lift(1, 1, False)
    assert await rig.command(1, 6) == (0, 2)  # lock
    assert await rig.read(102) == [3]
    assert await rig.command(1, 5) == (0, 3)  # clear
    assert await rig.read(102) == [1] and await rig.read(111) == [0]


async def test_pre_authorised_amount_preset_ends_on_the_exact_amount(rig: Rig) -> None:
    assert await rig.command(2, 1, 2, 0, 30000, 0) == (0, 1)  # 300.00 yuan on FP2 (diesel, 120 L/min)
    assert (await rig.read(200))[0] == 5  # Authorised
    assert await rig.read(214) == [2] and await rig.u32(216) == 30000
    await rig.lift(2, 1)
    await rig.run_until_idle(fp=2, step_s=2.0)
    assert await rig.u32(226) == 30000
    assert await rig.u32(224) == 4138  # 300 / 7.25 = 41.379 L -> 41.38 L


async def test_set_price_and_read_it_back(rig: Rig) -> None:
    await rig.write(142, [0, 812])
    assert await rig.u32(142) == 812
    single = await rig.client.write_register(155, 851, device_id=UNIT)  # low word of nozzle 2's price
    assert single.registers == [851]
    assert await rig.u32(154) == 851
    refused = await rig.client.write_registers(142, [0, 0], device_id=UNIT)
    assert refused.isError() and refused.exception_code == 3
    assert await rig.u32(142) == 812
    await rig.lift(1, 1)
    await rig.command(1, 1, 1, 0, 100, 0)
    await rig.run_until_idle()
    assert await rig.u32(128) == 812 and await rig.u32(126) == 812


async def test_price_change_during_fuelling_keeps_the_started_price(rig: Rig) -> None:
    await rig.lift(1, 1)
    await rig.command(1, 1, 1, 0, 1000, 0)
    rig.clock.advance(5)
    await rig.write(142, [0, 900])
    assert await rig.u32(104) == 789 and await rig.u32(142) == 900
    await rig.run_until_idle()
    assert await rig.u32(128) == 789 and await rig.u32(126) == 7890


async def test_refused_and_bad_commands(rig: Rig) -> None:
    assert await rig.command(1, 2) == (1, 1)  # stop while Idle: refused
    assert await rig.command(1, 77) == (2, 2)  # unknown command
    assert await rig.command(1, 1, 1, 0, 0) == (2, 3)  # volume preset of 0
    assert await rig.command(1, 1) == (0, 4)  # authorise (no preset)
    assert await rig.command(1, 1) == (1, 5)  # already authorised
    echo = await rig.client.write_register(190, 2, device_id=UNIT)  # FC06 stop: the reply echoes the request
    assert echo.registers == [2]
    assert await rig.read(196, 2) == [0, 6] and (await rig.read(100))[0] == 3


async def test_protocol_errors_are_modbus_exceptions(rig: Rig) -> None:
    read_only = await rig.client.write_registers(100, [5], device_id=UNIT)
    assert read_only.isError() and read_only.exception_code == 2
    beyond = await rig.client.read_holding_registers(300, count=1, device_id=UNIT)
    assert beyond.isError() and beyond.exception_code == 2
    not_a_nozzle = await rig.client.write_coil(103, True, device_id=UNIT)
    assert not_a_nozzle.isError() and not_a_nozzle.exception_code == 2
    await rig.lift(1, 1)
    second_nozzle = await rig.client.write_coil(102, True, device_id=UNIT)
    assert second_nozzle.isError() and second_nozzle.exception_code == 3


async def test_requests_for_another_unit_are_not_answered(rig: Rig) -> None:
    client = AsyncModbusTcpClient("127.0.0.1", port=rig.server.port, timeout=0.2, retries=0)
    assert await client.connect()
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=UNIT + 1)
    client.close()
    assert rig.server.faults.counters.dropped_requests == 1


async def test_fuel_flows_on_a_sim_clock_with_nobody_polling() -> None:
    clock = SimClock(speed=100)
    model = DispenserModel(DispenserConfig(), start=clock.now())
    async with DispenserServer(model, clock, port=0):
        model.lift_nozzle(1, 1)
        model.authorise(1, PresetType.VOLUME, 500)
        for _ in range(200):  # 5 L take about 10 simulated seconds: 0.1 s of real time
            await asyncio.sleep(0.02)
            if model.transactions(1):
                break
    assert [t.volume_cl for t in model.transactions(1)] == [500]
    assert model.fp_view(1).state is FpState.IDLE
