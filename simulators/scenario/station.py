"""The simulated station: every device simulator of a scenario file, started on one clock.

``SimulatedStation`` builds each simulator from its part of the file (prices from the station's
grades, device seeds derived from the scenario seed unless given), starts them on their ports
(``async with``), and is what customers, tankers and faults reach the equipment through:
``dispenser(code)``, ``gauge``, ``skid``, ``detector_line(code)``, ``charger(code)``, ``cameras``.
``endpoints()`` says where an edge node (or a person with a protocol tool) finds each device.

Chargers connect to ``<csms_url>/<charge_point_id>`` when the scenario names a CSMS (or the
charger its own ``csms_url``); without one they start with their network off, so they never try
to connect, start sessions locally, and queue their OCPP messages.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from simulators.camera.server import CameraServer
from simulators.charger.server import ChargerSimulator
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from simulators.gas_detector.server import GasDetectorServer
from simulators.gas_skid.server import GasSkidServer
from simulators.scenario.clock import ScenarioClock
from simulators.scenario.config import DetectorLineDevice, DispenserDevice, ScenarioConfig
from simulators.tank_gauge.server import TankGaugeServer

#: Below this many litres in its tank a grade cannot be sold (the pump would draw air).
MIN_PUMPABLE_L = 150.0


class SimulatedStation:
    """All simulators of one scenario; ``async with SimulatedStation(config, clock) as station: …``."""

    def __init__(self, config: ScenarioConfig, clock: ScenarioClock) -> None:
        self.config = config
        self.clock = clock
        devices = config.devices
        self.dispensers: dict[str, DispenserServer] = {
            d.code: DispenserServer(DispenserModel(self._dispenser_config(d), start=clock.stamp()), clock, port=d.port)
            for d in devices.dispensers
        }
        gauge = devices.tank_gauge
        self.gauge = None if gauge is None else TankGaugeServer(
            gauge.model_copy(update={"seed": self._seed(gauge.code, gauge.seed, "seed" in gauge.model_fields_set)}),
            clock, port=gauge.tcp_port,
        )
        skid = devices.gas_skid
        self.skid = None if skid is None else GasSkidServer(
            skid.model_copy(update={"seed": self._seed(skid.code, skid.seed, "seed" in skid.model_fields_set)}),
            clock, port=skid.port,
        )
        self.detector_lines: dict[str, GasDetectorServer] = {
            line.code: GasDetectorServer(self._line_config(line), clock, tcp_port=line.port)
            for line in devices.gas_detectors
        }
        self.chargers: dict[str, ChargerSimulator] = {}
        self.networked: dict[str, bool] = {}
        for charger in devices.chargers:
            url = charger.csms_url if "csms_url" in charger.model_fields_set else devices.csms_url
            self.networked[charger.charge_point_id] = url is not None
            built = charger.model_copy(update={
                "seed": self._seed(charger.charge_point_id, charger.seed, "seed" in charger.model_fields_set),
                **({"csms_url": url} if url is not None else {}),
            })
            self.chargers[charger.charge_point_id] = ChargerSimulator(built, clock)
        cameras = devices.cameras
        self.cameras = None if cameras is None else CameraServer(cameras, clock, port=cameras.port)
        self.grade_tank = {g.id: g.tank for g in config.station.grades}
        self._stack = contextlib.AsyncExitStack()
        self._meters_at_start: dict[tuple[str, int], float] = {}

    # ----- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        try:
            for server in self.dispensers.values():
                await self._stack.enter_async_context(server)
            for part in (self.gauge, self.skid, *self.detector_lines.values(), self.cameras):
                if part is not None:
                    await self._stack.enter_async_context(part)
            for code, charger in self.chargers.items():
                if not self.networked[code]:
                    charger.faults.go_offline()  # no CSMS: never try to connect; messages queue
                await self._stack.enter_async_context(charger)
        except BaseException:
            await self._stack.aclose()
            raise
        self._meters_at_start = self._charger_meters()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    # ----- lookup ----------------------------------------------------------------------------
    def dispenser(self, code: str) -> DispenserServer:
        return self.dispensers[code]

    def charger(self, code: str) -> ChargerSimulator:
        return self.chargers[code]

    def grade_available(self, grade: int) -> bool:
        """Is there product to sell for ``grade`` (true volume in its tank, not the gauge's view)?"""
        if self.gauge is None:
            return True
        return self.gauge.tank(self.grade_tank[grade]).gross_volume_l > MIN_PUMPABLE_L

    def tank_volumes(self) -> dict[int, float]:
        """True gross litres in each tank now."""
        if self.gauge is None:
            return {}
        self.gauge.sync()
        return {n: tank.gross_volume_l for n, tank in sorted(self.gauge.console.tanks.items())}

    def charging_wh(self) -> float:
        """Energy all chargers metered since the station started, Wh (sessions still running included)."""
        now = self._charger_meters()
        return sum(wh - self._meters_at_start.get(key, wh) for key, wh in now.items())

    def _charger_meters(self) -> dict[tuple[str, int], float]:
        meters: dict[tuple[str, int], float] = {}
        for code, charger in self.chargers.items():
            charger.sync()
            for connector_id, connector in charger.model.connectors.items():
                meters[(code, connector_id)] = connector.energy_wh
        return meters

    def totalizers_cl(self) -> dict[tuple[str, int, int], int]:
        """Volume totalizer of every nozzle, 0.01 L, keyed (dispenser, fuelling point, nozzle)."""
        found: dict[tuple[str, int, int], int] = {}
        for code, server in self.dispensers.items():
            server.catch_up()
            for fp in server.model.view().fuelling_points:
                for nozzle in fp.nozzles:
                    found[(code, fp.number, nozzle.number)] = nozzle.volume_total_cl
        return found

    def endpoints(self) -> list[tuple[str, str, str]]:
        """(code, what it is, where to reach it) for every device."""
        rows = [(code, "加油机 dispenser", f"modbus-tcp 127.0.0.1:{s.port} unit {s.unit_id}")
                for code, s in self.dispensers.items()]
        if self.gauge is not None and self.config.devices.tank_gauge is not None:
            serial = f", serial {self.gauge.serial_path}" if self.gauge.serial_path else ""
            rows.append((self.config.devices.tank_gauge.code, "液位仪 tank gauge",
                         f"TLS tcp 127.0.0.1:{self.gauge.port}{serial}"))
        if self.skid is not None and self.config.devices.gas_skid is not None:
            rows.append((self.config.devices.gas_skid.code, "气站撬 gas skid", self.skid.endpoint))
        for code, line in self.detector_lines.items():
            tcp = f", rtu-over-tcp {line.tcp_address[0]}:{line.tcp_address[1]}" if line.tcp_address else ""
            rows.append((code, "可燃气体探测器 gas detectors", f"modbus-rtu {line.slave_path}{tcp}"))
        for code, charger in self.chargers.items():
            link = f"OCPP {charger.config.ocpp_version} → {charger.url}" if self.networked[code] \
                else f"OCPP {charger.config.ocpp_version}, 无 CSMS no CSMS (offline, messages queue)"
            rows.append((code, "充电桩 charger", link))
        if self.cameras is not None:
            rows.append(("cameras", "摄像头 cameras", f"{self.cameras.base_url}/cameras"))
        return rows

    # ----- building --------------------------------------------------------------------------
    def _seed(self, code: str, configured: int, explicit: bool) -> int:
        return self.config.device_seed(code, configured, explicit)

    def _dispenser_config(self, device: DispenserDevice) -> DispenserConfig:
        """The dispenser's own config with the station's grade prices on its nozzles."""
        prices = {g.id: g.price_fen for g in self.config.station.grades}
        points = [
            FuellingPointConfig(nozzles=[
                NozzleConfig.model_validate(n.model_dump() | {"price_fen": prices[n.grade_id]}) for n in fp.nozzles
            ])
            for fp in device.fuelling_points
        ]
        data = device.model_dump(exclude={"code", "port", "fuelling_points"})
        data["seed"] = self._seed(device.code, device.seed, "seed" in device.model_fields_set)
        return DispenserConfig.model_validate(data | {"fuelling_points": points})

    def _line_config(self, line: DetectorLineDevice) -> DetectorLineDevice:
        update: dict[str, object] = {"seed": self._seed(line.code, line.seed, "seed" in line.model_fields_set)}
        if "name" not in line.model_fields_set:
            update["name"] = line.code
        return line.model_copy(update=update)
