"""The scenario file: one YAML that describes a simulated station, its traffic and its faults.

Top-level keys: ``simulation`` (start, duration, speed, seed, control port), ``station`` (code,
grades with prices in fen and the tank each draws from), ``devices`` (each simulator's own config
model plus a ``code`` and a port), ``traffic`` and ``faults`` (``traffic_config.py``). Every model
forbids unknown keys; ``loading.load_scenario`` reports every mistake as ``key.path: what was
expected``.

Fuelling positions (what cameras look at) are numbered across the station: the dispensers'
fuelling points in file order, then the CNG hoses, then the LNG hoses (``positions``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from simulators.camera.config import CameraSetConfig
from simulators.charger.config import ChargerConfig
from simulators.dispenser.config import MAX_PRICE_FEN, DispenserConfig
from simulators.gas_detector.config import GasDetectorLineConfig
from simulators.gas_skid.config import GasSkidConfig
from simulators.scenario.fault_table import check_fault
from simulators.scenario.timing import Seconds
from simulators.scenario.traffic_config import FaultEntry, Strict, Traffic
from simulators.tank_gauge.config import TankGaugeConfig

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$"


class ScenarioConfigError(ValueError):
    """The scenario file is wrong; the message names the file, the key and what was expected."""


class Grade(Strict):
    id: int = Field(ge=1, le=65535, description="grade id on the nozzles, e.g. 92, 95, 10 (0# diesel)")
    name: str = Field(min_length=1, max_length=20, description="shown on screen, e.g. 92#汽油")
    price_fen: int = Field(ge=1, le=MAX_PRICE_FEN, description="fen per litre")
    tank: int = Field(ge=1, le=99, description="the tank gauge's tank this grade is pumped from")


class StationPart(Strict):
    code: str = Field(pattern=CODE)
    name: str = ""
    timezone: str = "Asia/Shanghai"
    grades: list[Grade] = Field(default_factory=list, description="liquid fuels sold here")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _unique(self) -> StationPart:
        ids = [g.id for g in self.grades]
        if len(set(ids)) != len(ids):
            raise ValueError(f"grades: duplicate grade id in {ids}")
        return self

    def grade(self, grade_id: int) -> Grade:
        return next(g for g in self.grades if g.id == grade_id)


class DispenserDevice(DispenserConfig):
    """A dispenser (``DispenserConfig``) with its device code and Modbus TCP port (0 = a free one)."""

    code: str = Field(pattern=CODE)
    port: int = Field(default=0, ge=0, le=65535)


class TankGaugeDevice(TankGaugeConfig):
    """The tank gauge (``TankGaugeConfig``: ``tcp_port`` 0 = a free one); its tanks are ``tank-<n>``."""

    code: str = Field(default="atg-01", pattern=CODE)


class GasSkidDevice(GasSkidConfig):
    code: str = Field(default="skid-01", pattern=CODE)
    port: int = Field(default=0, ge=0, le=65535, description="OPC UA port, 0 = a free one")


class DetectorLineDevice(GasDetectorLineConfig):
    """A gas-detector RS-485 line: always a pseudo-terminal, plus RTU-over-TCP when ``port`` is set."""

    code: str = Field(pattern=CODE)
    port: int | None = Field(default=None, ge=0, le=65535, description="RTU over TCP; 0 = a free one")


class CameraDevices(CameraSetConfig):
    port: int = Field(default=0, ge=0, le=65535, description="HTTP port of all cameras, 0 = a free one")


class Devices(Strict):
    csms_url: str | None = Field(
        default=None, description="chargers connect to <csms_url>/<charge_point_id>; None: no network"
    )
    dispensers: list[DispenserDevice] = Field(default_factory=list)
    tank_gauge: TankGaugeDevice | None = None
    gas_skid: GasSkidDevice | None = None
    gas_detectors: list[DetectorLineDevice] = Field(default_factory=list)
    chargers: list[ChargerConfig] = Field(default_factory=list)
    cameras: CameraDevices | None = None

    @field_validator("csms_url")
    @classmethod
    def _ws(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme not in ("ws", "wss") or not urlsplit(value).hostname):
            raise ValueError(f"expected ws://host[:port][/path] or wss://…, got {value!r}")
        return value


class Simulation(Strict):
    start_time: time = Field(default=time(7, 0), description="station local time of day the run starts")
    start_date: date | None = Field(default=None, description="None: today (traffic depends on the hour only)")
    duration: Seconds | None = Field(default=3600.0, description="None: until Ctrl-C")
    speed: float = Field(default=60.0, gt=0, le=10000, description="simulated seconds per real second")
    seed: int = 1
    summary_every: Seconds = Field(default=300.0, gt=0)
    drain: Seconds = Field(default=900.0, description="after the end: time for cars on the forecourt to finish")
    control_port: int | None = Field(default=7700, ge=0, le=65535, description="None: no control port")


@dataclass(frozen=True, slots=True)
class PositionSpec:
    """A fuelling position: a dispenser's fuelling point or a gas skid hose."""

    number: int
    kind: str  # "fuel" | "cng" | "lng"
    device: str
    point: int


class ScenarioConfig(Strict):
    simulation: Simulation = Simulation()
    station: StationPart
    devices: Devices
    traffic: Traffic = Traffic()
    faults: list[FaultEntry] = Field(default_factory=list)

    def start(self) -> datetime:
        """The simulated start instant (UTC)."""
        zone = ZoneInfo(self.station.timezone)
        day = self.simulation.start_date or datetime.now(zone).date()
        return datetime.combine(day, self.simulation.start_time, tzinfo=zone).astimezone(UTC)

    def positions(self) -> list[PositionSpec]:
        specs = [("fuel", d.code, fp) for d in self.devices.dispensers for fp in range(1, len(d.fuelling_points) + 1)]
        skid = self.devices.gas_skid
        if skid is not None:
            specs += [("cng", skid.code, n) for n in range(1, len(skid.cng_dispensers) + 1)]
            specs += [("lng", skid.code, n) for n in range(1, len(skid.lng_dispensers) + 1)]
        return [PositionSpec(i, kind, device, point) for i, (kind, device, point) in enumerate(specs, start=1)]

    def targets(self) -> dict[str, str]:
        """Every code a fault may name, with its kind (see ``fault_table.py``)."""
        d = self.devices
        found: list[tuple[str, str]] = [(x.code, "dispenser") for x in d.dispensers]
        if d.tank_gauge is not None:
            found += [(d.tank_gauge.code, "tank_gauge"), *((f"tank-{t.number}", "tank") for t in d.tank_gauge.tanks)]
        if d.gas_skid is not None:
            found.append((d.gas_skid.code, "gas_skid"))
        for line in d.gas_detectors:
            found.append((line.code, "detector_line"))
            found += [(f"{line.code}/{unit.unit_id}", "detector") for unit in line.detectors]
            found += [(unit.tag, "detector") for unit in line.detectors if unit.tag]
        found += [(c.charge_point_id, "charger") for c in d.chargers]
        if d.cameras is not None:
            found += [(c.code, "camera") for c in d.cameras.cameras]
        targets: dict[str, str] = {}
        for code, kind in found:
            if code in targets:
                raise ValueError(f"devices: the code {code!r} names two devices")
            targets[code] = kind
        return targets

    def device_seed(self, code: str, configured: int, explicit: bool) -> int:
        """A device's seed: as configured when given, else derived from the scenario seed and its code."""
        return configured if explicit else zlib.crc32(f"{self.simulation.seed}:{code}".encode())

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioConfig:
        grades = {g.id: g for g in self.station.grades}
        for i, disp in enumerate(self.devices.dispensers):
            for j, fp in enumerate(disp.fuelling_points):
                for k, nozzle in enumerate(fp.nozzles):
                    where = f"devices.dispensers.{i}.fuelling_points.{j}.nozzles.{k}"
                    if nozzle.grade_id not in grades:
                        raise ValueError(f"{where}.grade_id: grade {nozzle.grade_id} is not in station.grades")
                    if "price_fen" in nozzle.model_fields_set:
                        raise ValueError(f"{where}.price_fen: prices are set per grade in station.grades")
        gauge = self.devices.tank_gauge
        tanks = {t.number for t in gauge.tanks} if gauge is not None else set()
        for i, grade in enumerate(self.station.grades):
            if self.devices.dispensers and grade.tank not in tanks:
                raise ValueError(f"station.grades.{i}.tank: no tank {grade.tank} in devices.tank_gauge")
        for i, delivery in enumerate(self.traffic.deliveries):
            if delivery.tank not in tanks:
                raise ValueError(f"traffic.deliveries.{i}.tank: no tank {delivery.tank} in devices.tank_gauge")
        for grade_id in self.traffic.fuel.grade_mix:
            if grade_id not in grades:
                raise ValueError(f"traffic.fuel.grade_mix: grade {grade_id} is not in station.grades")
        self._check_traffic_has_devices()
        targets = self.targets()
        for i, entry in enumerate(self.faults):
            if entry.device not in targets:
                raise ValueError(f"faults.{i}.device: no device {entry.device!r}; known: {', '.join(targets)}")
            problem = check_fault(entry.fault, targets[entry.device], entry.args)
            if problem:
                raise ValueError(f"faults.{i}: {problem}")
        if self.devices.cameras is not None:
            count = len(self.positions())
            for i, camera in enumerate(self.devices.cameras.cameras):
                if camera.fuelling_point is not None and camera.fuelling_point > count:
                    raise ValueError(f"devices.cameras.cameras.{i}.fuelling_point: the station has {count} positions")
        return self

    def _check_traffic_has_devices(self) -> None:
        traffic, skid = self.traffic, self.devices.gas_skid
        needs = [
            (max(traffic.fuel.cars_per_hour) > 0 and not self.devices.dispensers, "traffic.fuel", "dispensers"),
            (max(traffic.cng.vehicles_per_hour) > 0 and (skid is None or not skid.cng_dispensers), "traffic.cng",
             "gas_skid with cng_dispensers"),
            (max(traffic.lng.vehicles_per_hour) > 0 and (skid is None or not skid.lng_dispensers), "traffic.lng",
             "gas_skid with lng_dispensers"),
            (max(traffic.ev.sessions_per_hour) > 0 and not self.devices.chargers, "traffic.ev", "chargers"),
            (traffic.reorder is not None and self.devices.tank_gauge is None, "traffic.reorder", "tank_gauge"),
        ]
        for missing, key, device in needs:
            if missing:
                raise ValueError(f"{key}: traffic here needs devices.{device}")
