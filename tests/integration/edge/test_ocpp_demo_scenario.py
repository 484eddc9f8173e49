"""The demo scenario's EVs charge at the demo station's central system: its chargers, the id-tag list of
config/stations/demo.yaml and the scenario drivers' cards agree.

The real central system is built from the station file's ``chargers`` entry (on a free port); the demo
scenario (config/scenarios/demo-station.yaml, cameras and faults left out) runs an hour with its
chargers connected to it. Drivers with a card on the list charge; drivers with a refused card or a
card the station does not know are refused at the charger and drive on.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from edge_nodes.station import load_station
from protocol_adapters.ocpp.sessions import ChargingSession
from simulators.scenario import Scenario, with_free_ports
from simulators.scenario.loading import load_scenario

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[3] / "config"
SPEED = 600.0


def demo_central_system() -> OcppDevice:
    [device] = [d for d in load_station(CONFIG / "stations" / "demo.yaml").devices if isinstance(d, OcppDevice)]
    return device.model_copy(update={"listen_port": 0})


async def run_demo(device: OcppDevice) -> tuple[list[ChargingSession], Scenario]:
    source = device.source()
    assert isinstance(source, OcppSource)
    sessions: list[ChargingSession] = []

    async def record(session: ChargingSession) -> None:
        sessions.append(session)

    source.csms.core.on_session = record
    async with source.csms as csms:
        config = with_free_ports(load_scenario(CONFIG / "scenarios" / "demo-station.yaml"))
        devices = config.devices.model_copy(update={"csms_url": f"ws://127.0.0.1:{csms.port}/ocpp", "cameras": None})
        config = config.model_copy(update={"devices": devices, "faults": []})
        async with Scenario(config, speed=SPEED, out=io.StringIO()) as scenario:
            await asyncio.wait_for(asyncio.gather(*(c.wait_online() for c in scenario.station.chargers.values())), 10)
            await scenario.run(3600.0)
            await asyncio.wait_for(delivered(scenario), 60)
    return sessions, scenario


async def delivered(scenario: Scenario) -> None:
    """Until every charger has delivered its transaction messages: at 600× an hour lasts 6 s, and on a busy
    machine the last StopTransaction may still be in a charger's outbox when the hour ends."""
    while any(c.outbox.transactional_count() for c in scenario.station.chargers.values()):
        await asyncio.sleep(0.05)


def test_the_demo_scenarios_evs_charge_and_unknown_cards_are_refused() -> None:
    device = demo_central_system()
    sessions, scenario = asyncio.run(run_demo(device))
    accepted = {tag.casefold() for tag, status in device.id_tags.items() if status == "Accepted"}
    evs = scenario.tally.evs
    print(f"\nEV drivers: {evs.arrived} arrived, {evs.served} charged, {evs.refused} refused; "
          f"{len(sessions)} sessions at the central system, {sum(s.energy_kwh for s in sessions):.1f} kWh")
    assert sessions and all(s.authorised and s.id_tag.casefold() in accepted for s in sessions)
    assert sum(s.energy_kwh for s in sessions) > 1.0
    assert evs.refused >= 1          # a refused or unknown card: the charger would not start
    assert len(sessions) <= evs.served   # a car still plugged in at closing time may not have stopped yet
