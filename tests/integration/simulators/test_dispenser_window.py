"""The transaction window: write a number to B+98..99, read its record from input registers B+20..39."""

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient

from simulators.dispenser.states import PresetType
from tests.support.station import dispenser

pytestmark = pytest.mark.integration


async def test_buffered_transactions_can_be_read_back_by_number() -> None:
    async with dispenser(speed=20.0) as server:
        model = server.model
        for centilitres in (120, 250):                      # two fuellings, neither paid
            server.catch_up()
            model.lift_nozzle(1, 1)
            assert model.authorise(1, PresetType.VOLUME, centilitres, 1) == 0
            while model.fp_view(1).state != 4 and model.fp_view(1).state != 3:   # back to calling / idle


                await asyncio.sleep(0.05)
                server.catch_up()
            model.hang_nozzle(1, 1)
        client = AsyncModbusTcpClient("127.0.0.1", port=server.port)
        await client.connect()
        try:
            records = {}
            for number in (1, 2, 7):
                assert not (await client.write_registers(198, [0, number])).isError()
                r = (await client.read_input_registers(120, count=20)).registers
                records[number] = (r[0] << 16 | r[1], r[4] << 16 | r[5])   # number, volume 0.01 L
            assert records[1] == (1, 120) and records[2] == (2, 250)
            assert records[7] == (0, 0), "a number no longer (or never) in the buffer reads as zeros"
            last = (await client.read_holding_registers(120, count=6)).registers
            assert last[0] << 16 | last[1] == 2, "the holding record still shows the latest transaction"
        finally:
            client.close()
