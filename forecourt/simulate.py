"""Bootstraps of the device simulators for ``forecourt sim …`` and the demo."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING

from simulators.clock import SimClock
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from simulators.dispenser.states import FpState, PresetType

if TYPE_CHECKING:
    from simulators.camera import CameraServer

log = logging.getLogger(__name__)

# 92# and 95# petrol on both sides of the demo dispenser (prices in fen per litre)
DEMO_DISPENSER = DispenserConfig(fuelling_points=[
    FuellingPointConfig(nozzles=[NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=12_345_600),
                                 NozzleConfig(grade_id=95, price_fen=836, initial_volume_total_cl=8_765_400)]),
    FuellingPointConfig(nozzles=[NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=10_000_000),
                                 NozzleConfig(grade_id=95, price_fen=836, initial_volume_total_cl=7_000_000)]),
], seed=7)


def dispenser_config(path: Path | None, *, auto_authorise: bool = False) -> DispenserConfig:
    config = DispenserConfig.from_yaml(path) if path else DEMO_DISPENSER
    return config.model_copy(update={"auto_authorise": True}) if auto_authorise else config


async def run_dispenser(config_path: Path | None, host: str, port: int, *, auto_authorise: bool = False,
                        speed: float = 1.0) -> None:
    clock = SimClock(speed)
    config = dispenser_config(config_path, auto_authorise=auto_authorise)
    model = DispenserModel(config, start=clock.now())
    async with DispenserServer(model, clock, host=host, port=port) as server:
        print(f"加油机模拟器 (dispenser simulator): Modbus TCP {host}:{server.port}, unit {server.unit_id}, "
              f"{len(config.fuelling_points)} 个加油点; 寄存器表见 docs/protocols/dispenser-modbus.md", flush=True)
        await asyncio.Event().wait()


async def drive_customers(server: DispenserServer, every_s: float, rng: random.Random,
                          cameras: CameraServer | None = None) -> None:
    """Cars arrive now and then: lift a nozzle, the cashier authorises a preset, fuel, hang up, pay (and, with
    ``cameras``, the lane camera of that fuelling point shows a car meanwhile)."""
    model = server.model
    while True:
        await asyncio.sleep(rng.expovariate(1 / every_s))
        server.catch_up()
        idle = [fp.number for fp in model.view().fuelling_points if fp.state is FpState.IDLE]
        if not idle:
            continue
        fp = rng.choice(idle)
        lane = cameras.camera_at(fp) if cameras is not None else None
        if lane is not None:
            lane.car_arrived()
        nozzle = rng.randint(1, len(model.fp_view(fp).nozzles))
        model.lift_nozzle(fp, nozzle)
        if rng.random() < 0.5:
            preset = (PresetType.AMOUNT, rng.choice([5000, 10000, 20000, 30000]))   # fen
        else:
            preset = (PresetType.VOLUME, rng.choice([1000, 2000, 3000, 4500]))      # 0.01 L
        model.authorise(fp, preset[0], preset[1], nozzle)
        log.info("车辆到达 加油点 %d 油枪 %d, 预置 %s %d", fp, nozzle, preset[0].name, preset[1])
        while model.fp_view(fp).state in (FpState.AUTHORISED, FpState.STARTED, FpState.FUELLING):
            await asyncio.sleep(0.5)
            server.catch_up()
        model.hang_nozzle(fp, nozzle)
        await asyncio.sleep(rng.uniform(2, 6))    # paying at the counter
        server.catch_up()
        model.clear(fp)
        if lane is not None:
            lane.car_left()


async def run_station(path: Path, speed: float | None, seed: int | None, duration_s: float | None) -> None:
    """``forecourt sim station FILE.yaml``: a whole simulated station from a scenario file (docs/simulators.md).

    ``None`` keeps the file's value (``simulation.speed``, ``.seed``, ``.duration``).
    """
    from edge_nodes.station import StationConfigError
    from forecourt.extras import require
    from forecourt.local import InfrastructureError

    require("numpy", "the simulated station (its lane cameras draw their frames with numpy)")
    from simulators.scenario import Scenario, ScenarioConfigError, load_scenario

    try:
        config = load_scenario(path)
        scenario = Scenario(config, speed=speed, seed=seed)
    except ScenarioConfigError as exc:
        raise StationConfigError(str(exc)) from exc  # the CLI reports it and exits with 2
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # its security-policy warnings say nothing here
    try:
        await scenario.__aenter__()
    except OSError as exc:
        raise InfrastructureError(f"cannot start the simulated station: {exc} (a port in use? 0 = a free one)") from exc
    try:
        await scenario.run(duration_s if duration_s is not None else config.simulation.duration)
    finally:
        await scenario.__aexit__(None, None, None)
