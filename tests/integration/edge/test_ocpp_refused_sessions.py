"""A session whose id tag the central system refused is published as ``charging.refused``, never as a sale.

The real charger simulator starts a session offline for a blocked card (as piles set up for offline
charging do), then its link comes back: the queued StartTransaction is answered Blocked, the charger
stops, and the edge node publishes one ``charging.refused`` event with the energy that flowed anyway.
"""

from __future__ import annotations

import asyncio

import pytest

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from simulators.charger import ChargerConfig, ChargerSimulator
from simulators.clock import SimClock
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.charging import ChargingCompleted, ChargingRefused
from telemetry.contracts.topics import events_filter
from tests.support.mqtt import recording

pytestmark = pytest.mark.integration


def _csms_node(station: str, broker: BrokerAddress, group: str) -> tuple[EdgeNode, OcppSource]:
    device = OcppDevice(protocol="ocpp", code="chargers", listen_host="127.0.0.1", listen_port=0,
                        charge_points=[{"id": "chg-01"}],  # type: ignore[list-item]
                        id_tags={"RFID0001": "Accepted", "STOLEN01": "Blocked"})  # type: ignore[dict-item]
    node = EdgeNode(Station(station=station, devices=[device]), broker, group=group)
    source = node.sources[0]
    assert isinstance(source, OcppSource)
    return node, source


def _charging_events(messages: list[tuple[str, bytes]]) -> list[CloudEvent]:
    return [CloudEvent.from_bytes(raw) for topic, raw in messages if "/events/charging." in topic]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_blocked_card_charging_offline_is_reported_refused_with_its_energy(
        broker: BrokerAddress, group: str, version: str) -> None:
    node, source = _csms_node("st-refused", broker, group)
    async with recording(broker, events_filter(group, "st-refused")) as rec:
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await asyncio.wait_for(source.ready.wait(), 5)
            config = ChargerConfig(charge_point_id="chg-01", ocpp_version=version, meter_interval_s=5, seed=3)
            chg = ChargerSimulator(config, SimClock(60), url=f"ws://127.0.0.1:{source.csms.port}/ocpp/chg-01")
            chg.faults.go_offline()
            async with chg:
                await chg.plug_in(1)
                chg.mutate(lambda model: model.authorize(1, "STOLEN01"))   # the pile starts offline
                await asyncio.sleep(1.0)                                     # a simulated minute of charging
                chg.faults.go_online()
                await rec.wait_until(lambda: bool(_charging_events(rec.messages)), within_s=15)
                await asyncio.sleep(0.5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    [event] = _charging_events(rec.messages)
    assert event.type == "charging.refused"
    assert (event.data["id_tag"], event.data["id_tag_status"]) == ("STOLEN01", "Blocked")
    refused = ChargingRefused.from_event(event)
    assert refused.energy_kwh > 0 and refused.energy_flowed is True
    assert event.data["stop_reason"] == "DeAuthorized"     # the charger stopped when told the card is refused
    assert source.csms.core.stats.refused_sessions == 1


async def test_an_accepted_session_is_completed_with_its_tag_status(broker: BrokerAddress, group: str) -> None:
    node, source = _csms_node("st-accepted", broker, group)
    async with recording(broker, events_filter(group, "st-accepted")) as rec:
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await asyncio.wait_for(source.ready.wait(), 5)
            config = ChargerConfig(charge_point_id="chg-01", ocpp_version="2.0.1", meter_interval_s=5, seed=4)
            async with ChargerSimulator(config, SimClock(60),
                                        url=f"ws://127.0.0.1:{source.csms.port}/ocpp/chg-01") as chg:
                await chg.wait_online()
                assert not await chg.plug_in(1, "NOBODY99")                  # unknown: refused, no session
                await chg.unplug(1)
                assert await chg.plug_in(1, "RFID0001")
                await asyncio.sleep(1.0)
                await chg.unplug(1)
                await rec.wait_until(lambda: bool(_charging_events(rec.messages)), within_s=15)
                await asyncio.sleep(0.5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    [event] = _charging_events(rec.messages)
    assert event.type == "charging.completed"
    assert (event.data["id_tag"], event.data["id_tag_status"]) == ("RFID0001", "Accepted")
    assert "energy_flowed" not in event.data and ChargingCompleted.from_event(event).energy_kwh > 0
    assert source.csms.core.stats.refused_sessions == 0
