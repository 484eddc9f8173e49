"""Test helpers: a dispenser simulator and a station that points an edge node at it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from edge_nodes.devices.modbus import ModbusDevice
from edge_nodes.station import Station
from simulators.clock import SimClock
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from simulators.dispenser.states import FpState, PresetType

ONE_SIDE = DispenserConfig(fuelling_points=[FuellingPointConfig(nozzles=[
    NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=100_000),
    NozzleConfig(grade_id=95, price_fen=836)])], seed=3)


@contextlib.asynccontextmanager
async def dispenser(config: DispenserConfig = ONE_SIDE, speed: float = 1.0) -> AsyncIterator[DispenserServer]:
    clock = SimClock(speed)
    async with DispenserServer(DispenserModel(config, start=clock.now()), clock, port=0) as server:
        yield server


def station_for(server: DispenserServer, code: str = "st-01", poll_s: float = 0.2) -> Station:
    fps = server.model.fuelling_point_count
    nozzles = max(len(fp.nozzles) for fp in server.model.config.fuelling_points)
    return Station(station=code, devices=[ModbusDevice(
        code="disp-01", kind="dispenser", port=server.port, profile="dispenser-v1", fuelling_points=fps,
        nozzles_per_point=nozzles, poll_interval_s=poll_s, timeout_s=0.3)])


async def sell(server: DispenserServer, centilitres: int, fp: int = 1, nozzle: int = 1) -> int:
    """A customer lifts the nozzle, the POS authorises a volume preset, the pump fuels it, the nozzle goes back
    and the cashier is paid at once. Returns the pump's answer to the authorisation (0: accepted)."""
    model = server.model
    server.catch_up()
    model.lift_nozzle(fp, nozzle)
    answer = model.authorise(fp, PresetType.VOLUME, centilitres, nozzle)
    while model.fp_view(fp).state in (FpState.AUTHORISED, FpState.STARTED, FpState.FUELLING):
        await asyncio.sleep(0.05)
        server.catch_up()
    model.hang_nozzle(fp, nozzle)
    model.clear(fp)
    return int(answer)
