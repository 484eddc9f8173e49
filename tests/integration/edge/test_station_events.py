"""Finished charging sessions leave the edge node as exactly one ``charging.completed`` event each."""

import asyncio
from decimal import Decimal

import pytest

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from simulators.charger import ChargerConfig, ChargerSimulator
from simulators.clock import SimClock
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.charging import ChargingCompleted
from telemetry.contracts.topics import events_filter
from tests.support.mqtt import recording

pytestmark = pytest.mark.integration


def _csms_node(station: str, broker: BrokerAddress, group: str) -> tuple[EdgeNode, OcppSource]:
    """An edge node whose one device is the OCPP central system for charger chg-01 (card RFID0001 accepted)."""
    device = OcppDevice(protocol="ocpp", code="chargers", listen_host="127.0.0.1", listen_port=0,
                        charge_points=[{"id": "chg-01"}],  # type: ignore[list-item]
                        id_tags={"RFID0001": "Accepted"})  # type: ignore[dict-item]
    node = EdgeNode(Station(station=station, devices=[device]), broker, group=group)
    source = node.sources[0]
    assert isinstance(source, OcppSource)
    return node, source


async def test_a_charging_session_becomes_one_event(broker: BrokerAddress, group: str) -> None:
    node, source = _csms_node("st-evt", broker, group)
    async with recording(broker, events_filter(group, "st-evt")) as rec:
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await asyncio.wait_for(source.ready.wait(), 5)
            config = ChargerConfig(charge_point_id="chg-01", ocpp_version="1.6", meter_interval_s=5, seed=3)
            async with ChargerSimulator(config, SimClock(60), url=f"ws://127.0.0.1:{source.csms.port}/ocpp/chg-01") \
                    as chg:
                await chg.wait_online()
                assert await chg.plug_in(1, "RFID0001")
                await asyncio.sleep(1.0)
                await chg.unplug(1)
                await rec.wait_until(lambda: any(t.endswith("/charging.completed") for t, _ in rec.messages))
                await asyncio.sleep(0.5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    [event] = [CloudEvent.from_bytes(raw) for t, raw in rec.messages if t.endswith("/charging.completed")]
    assert event.data["charge_point"] == "chg-01" and event.data["id_tag"] == "RFID0001"
    session = ChargingCompleted.from_event(event)
    assert session.energy_kwh > 0
    assert session.energy_kwh == Decimal(session.meter_stop_wh - session.meter_start_wh) / 1000


async def test_head_office_pushes_the_id_tag_list(broker: BrokerAddress, group: str) -> None:
    import aiomqtt

    from telemetry.contracts.commands import REPLACE_ID_TAGS, command_topic

    node, source = _csms_node("st-tags", broker, group)
    async with recording(broker, events_filter(group, "st-tags")) as rec:
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            async with aiomqtt.Client(**broker.client_kwargs()) as office:
                for tags in ({"MEMBER42": "Accepted", "RFID0001": "Blocked"}, {"X": "Maybe"}):
                    push = CloudEvent(source="head-office", type=REPLACE_ID_TAGS,
                                      data={"device": "chargers", "id_tags": tags})
                    await office.publish(command_topic(group, "st-tags", REPLACE_ID_TAGS), push.to_bytes(), qos=1)
            await rec.wait_until(lambda: sum(t.endswith("/command.acknowledged") for t, _ in rec.messages) == 2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    results = sorted(CloudEvent.from_bytes(raw).data["result"] for t, raw in rec.messages
                     if t.endswith("/command.acknowledged"))
    assert results == ["accepted", "bad-argument"]
    assert str(source.auth.status("member42")).endswith("Accepted")
    assert str(source.auth.status("RFID0001")).endswith("Blocked")     # the bad push changed nothing
