"""A station file's ``protocol: ocpp`` entry in a real edge node: chargers' metrics go out as Sparkplug B."""

from __future__ import annotations

import asyncio

import pytest

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from simulators.charger import ChargerConfig, ChargerSimulator
from simulators.clock import SimClock
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.quality import Quality
from telemetry.contracts.topics import MessageType
from tests.support.mqtt import recording

pytestmark = pytest.mark.integration


async def stop(node_task: asyncio.Task[None]) -> None:
    """Cancel the edge node, again if a cancellation got lost.

    On Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that arrives as its inner wait
    ends (CPython gh-86296); ``EdgeNode._drain`` waits that way in a loop, so one cancel is not
    always enough.
    """
    for _ in range(20):
        node_task.cancel()
        done, _ = await asyncio.wait({node_task}, timeout=0.5)
        if done:
            return
    raise AssertionError("the edge node did not stop")


async def test_charger_metrics_are_born_and_published(broker: BrokerAddress, group: str) -> None:
    device = OcppDevice(protocol="ocpp", code="chargers", listen_host="127.0.0.1", listen_port=0,
                        charge_points=[{"id": "chg-01"}],  # type: ignore[list-item]
                        id_tags={"RFID0001": "Accepted"})  # type: ignore[dict-item]
    node = EdgeNode(Station(station="st-ev", devices=[device]), broker, group=group)
    source = node.sources[0]
    assert isinstance(source, OcppSource)
    async with recording(broker, topics.group_filter(group)) as rec:
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await asyncio.wait_for(source.ready.wait(), 5)
            config = ChargerConfig(charge_point_id="chg-01", ocpp_version="2.0.1", meter_interval_s=5, seed=2)
            url = f"ws://127.0.0.1:{source.csms.port}/ocpp/chg-01"
            async with ChargerSimulator(config, SimClock(40), url=url) as chg:
                await chg.wait_online()
                assert await chg.plug_in(1, "RFID0001")
                current = node.current["chargers"]
                await rec.wait_until(lambda: (e := current.get("chg-01/1/energy")) is not None
                                     and e.quality is Quality.GOOD and isinstance(e.value, float) and e.value > 0)
                await rec.wait_until(lambda: sum(t.message_type is MessageType.DDATA for t, _ in rec.sparkplug()) >= 3)
                assert current["chg-01/online"].value is True and current["chg-01/1/status"].value == "Charging"
        finally:
            await stop(task)

    traffic = rec.sparkplug()
    [dbirth] = [p for t, p in traffic if t.message_type is MessageType.DBIRTH and t.device == "chargers"]
    born = {m.name: m for m in dbirth.metrics}
    assert set(born) == set(source.metrics)
    assert born["chg-01/1/energy"].properties.get("engUnit") == "kWh"
