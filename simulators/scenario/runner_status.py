"""The scenario's spots, whether the equipment can serve one now, and what the control port may ask.

``build_spots`` turns the file's fuelling positions and charger connectors into ``Spot``s;
``spot_usable`` asks the simulators whether a spot can serve a customer right now.
``ScenarioControls`` (mixed into ``Scenario``) answers the control port: status, sending a car,
a gas vehicle, an EV or a tanker now, and injecting or clearing faults.
"""

from __future__ import annotations

import itertools
import random
from typing import cast

from simulators.dispenser.states import FpState
from simulators.gas_skid.cng_dispenser import CngDispenserState
from simulators.gas_skid.lng_dispenser import LngDispenserState
from simulators.scenario.clock import ScenarioClock
from simulators.scenario.config import ScenarioConfig
from simulators.scenario.console import Console
from simulators.scenario.context import Context
from simulators.scenario.customers import fuel_car, gas_vehicle
from simulators.scenario.ev import ev_driver
from simulators.scenario.faults import FaultBook
from simulators.scenario.lanes import Spot
from simulators.scenario.station import SimulatedStation
from simulators.scenario.tally import Tally
from simulators.scenario.tanks import tanker
from simulators.scenario.timing import format_clock
from simulators.scenario.traffic import PresetKind, TrafficGenerator
from simulators.scenario.traffic_config import TankerDelivery


def build_spots(config: ScenarioConfig) -> list[Spot]:
    dispensers = {d.code: d for d in config.devices.dispensers}
    spots: list[Spot] = []
    for position in config.positions():
        if position.kind == "fuel":
            nozzles: dict[int, int] = {}
            for k, nozzle in enumerate(dispensers[position.device].fuelling_points[position.point - 1].nozzles, 1):
                nozzles.setdefault(nozzle.grade_id, k)
            spots.append(Spot("fuel", position.device, position.point, frozenset(str(g) for g in nozzles),
                              position.number, nozzles))
        else:
            spots.append(Spot(position.kind, position.device, position.point, frozenset({position.kind}),
                              position.number))
    for charger in config.devices.chargers:
        spots += [Spot("ev", charger.charge_point_id, c.connector_id, frozenset({"ev"})) for c in charger.connectors]
    return spots


def spot_usable(station: SimulatedStation, spot: Spot) -> bool:
    """Can the equipment at ``spot`` serve a customer now (power, no fault, not blocked by unpaid sales)?"""
    if spot.kind == "fuel":
        server = station.dispenser(spot.device)
        server.catch_up()
        view, limit = server.model.fp_view(spot.point), server.model.config.unpaid_limit
        return (server.model.powered and view.state is FpState.IDLE and not view.hang_up_required
                and (limit == 0 or view.unpaid_count < limit))
    if spot.kind in ("cng", "lng"):
        skid = station.skid
        if skid is None:
            return False
        if spot.kind == "cng":
            return skid.model.cng(spot.point).state is CngDispenserState.IDLE
        return skid.model.lng(spot.point).state is LngDispenserState.IDLE
    charger = station.charger(spot.device)
    connector = charger.model.connector(spot.point)
    return charger.model.powered and connector.fault is None and connector.ev is None and connector.session is None


def spot_state(station: SimulatedStation, spot: Spot) -> str:
    """The equipment's own state word for a spot (IFSF FP state, gas dispenser state, OCPP status)."""
    if spot.kind == "fuel":
        server = station.dispenser(spot.device)
        return server.model.fp_view(spot.point).state.name if server.model.powered else "NO_POWER"
    if spot.kind in ("cng", "lng") and station.skid is not None:
        model = station.skid.model
        return (model.cng(spot.point) if spot.kind == "cng" else model.lng(spot.point)).state.name
    if spot.kind == "ev":
        return str(station.charger(spot.device).model.connector(spot.point).status)
    return "?"


class ScenarioControls:
    """Answers to the control port (see ``control.Controlled``)."""

    config: ScenarioConfig
    clock: ScenarioClock
    station: SimulatedStation
    ctx: Context
    tally: Tally
    console: Console
    faults: FaultBook
    traffic: TrafficGenerator
    _manual: itertools.count[int]
    _control_rng: random.Random

    def status_lines(self) -> list[str]:
        t, local = self.tally, self.console.local_now()
        lines = [
            f"时间 time {local:%Y-%m-%d %H:%M:%S} (+{format_clock(self.clock.elapsed())}), "
            f"速度 speed {self.clock.speed:g}×, 种子 seed {self.config.simulation.seed}",
            f"车辆 cars: {t.cars.arrived} arrived, {t.cars.served} served, {t.cars.waited} waited, {t.cars.left} left; "
            f"gas {t.gas.served}/{t.gas.arrived}; EV {t.evs.served}/{t.evs.arrived}, {t.ev_wh / 1000:.1f} kWh",
            "销量 sold: " + (", ".join(f"{self.ctx.grade_name(g)} {cl / 100:.2f} L {t.amount_fen[g]} fen"
                                      for g, cl in sorted(t.volume_cl.items())) or "-"),
        ]
        gauge = self.station.gauge
        for number, litres in self.station.tank_volumes().items():
            shown = gauge.reading(number).volume_l if gauge is not None else litres
            lines.append(f"油罐 tank-{number}: {litres:,.1f} L (液位仪 gauge shows {shown:,.1f} L)")
        for spot in self.ctx.lanes.spots:
            where = f" 位置 position {spot.number}" if spot.number is not None else ""
            who = spot.occupant or ("空闲 free" if spot_usable(self.station, spot) else "不可用 unusable")
            lines.append(f"{spot.kind:<4} {spot.label:<14}{where} {spot_state(self.station, spot):<12} {who}")
        lines.append(f"排队 waiting: {self.ctx.lanes.waiting()}")
        lines += [f"故障 fault: {line}" for line in self.fault_lines()]
        return lines

    def fault_lines(self) -> list[str]:
        return self.faults.describe()

    def send_car(self, grade: int | None, preset: str | None) -> str:
        if not self.station.dispensers:
            raise ValueError("this station has no dispensers")
        if grade is not None and grade not in self.station.grade_tank:
            raise ValueError(f"no grade {grade}; grades: {sorted(self.station.grade_tank)}")
        if preset not in (None, "amount", "volume", "full"):
            raise ValueError(f"preset must be amount, volume or full, got {preset!r}")
        kind = cast("PresetKind | None", preset)
        number = next(self._manual)
        car = self.traffic.fuel_car(self.config.traffic.fuel, self._control_rng, number, self.clock.elapsed(),
                                    grade, kind)
        self.ctx.spawn(fuel_car(self.ctx, car), f"car-{number}")
        return f"车{number} car{number} 派出 sent: {self.ctx.grade_name(car.grade)} {car.preset}"

    def send_gas(self, gas: str) -> str:
        if not self.ctx.lanes.serves(gas):
            raise ValueError(f"this station has no {gas.upper()} dispensers")
        number = next(self._manual)
        part = self.config.traffic.cng if gas == "cng" else self.config.traffic.lng
        vehicle = self.traffic.gas_vehicle(part, "cng" if gas == "cng" else "lng", self._control_rng, number,
                                           self.clock.elapsed())
        self.ctx.spawn(gas_vehicle(self.ctx, vehicle), f"{gas}-{number}")
        return f"{gas.upper()} {number} 派出 sent"

    def send_ev(self) -> str:
        if not self.ctx.lanes.serves("ev"):
            raise ValueError("this station has no chargers")
        number = next(self._manual)
        driver = self.traffic.ev_driver(self.config.traffic.ev, self._control_rng, number, self.clock.elapsed())
        self.ctx.spawn(ev_driver(self.ctx, driver), f"ev-{number}", role="driver")
        return f"电车{number} EV{number} 派出 sent"

    def send_delivery(self, tank: int, litres: float) -> str:
        gauge = self.station.gauge
        if gauge is None or tank not in gauge.console.tanks:
            raise ValueError(f"no tank-{tank}")
        delivery = TankerDelivery(at=self.clock.elapsed(), tank=tank, litres=litres)
        self.ctx.spawn(tanker(self.ctx, delivery, "手动", "by command"), f"tanker-{tank}", role="background")
        return f"油罐车 tanker for tank-{tank}: {litres:,.0f} L 派出 sent"

    async def inject_fault(self, device: str, fault: str, duration_s: float | None, args: dict[str, object]) -> str:
        record = await self.faults.inject(device, fault, args, duration_s, "command")
        until = f", until +{format_clock(record.started_s + duration_s)}" if duration_s is not None else ""
        return f"故障注入 injected {device} {fault} at +{format_clock(record.started_s)}{until}"

    async def clear_faults(self, device: str | None, fault: str | None) -> str:
        return f"清除 cleared {await self.faults.clear(device, fault)}"
