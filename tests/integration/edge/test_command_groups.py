"""Two companies, each with a station ``demo-01``, on one broker: a command reaches only its own company's pump."""

import asyncio
import contextlib

import aiomqtt
import pytest

from edge_nodes.runtime import EdgeNode
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import SET_PRICE, command_topic
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.topics import events_filter
from tests.support.mqtt import recording
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration


async def test_a_command_reaches_only_its_own_companys_station(broker: BrokerAddress, group: str) -> None:
    company_a, company_b = f"{group}-a", f"{group}-b"

    def ours(messages: list[tuple[str, bytes]]) -> list[str]:
        """The acknowledgements of this test's two companies (a test beside it may have a station demo-01 too)."""
        return [topic for topic, _ in messages if topic.split("/")[2] in (company_a, company_b)]

    async with dispenser() as pump_a, dispenser() as pump_b, \
            recording(broker, events_filter("+", "demo-01", "command.acknowledged")) as rec:
        price_before = pump_b.model.fp_view(1).nozzles[0].price_fen
        nodes = [EdgeNode(station_for(pump_a, code="demo-01"), broker, group=company_a),
                 EdgeNode(station_for(pump_b, code="demo-01"), broker, group=company_b)]
        tasks = [asyncio.create_task(n.run()) for n in nodes]
        try:
            for node in nodes:
                await asyncio.wait_for(node.connected.wait(), 10)
            command = CloudEvent(source="test/head-office", type=SET_PRICE,
                                 data={"device": "disp-01", "fuelling_point": 1, "nozzle": 1, "price_fen_per_l": 811})
            async with aiomqtt.Client(**broker.client_kwargs()) as office:
                await office.publish(command_topic(company_a, "demo-01", SET_PRICE), command.to_bytes(), qos=1)
            await rec.wait_until(lambda: ours(rec.messages))
            await asyncio.sleep(1.0)                       # time for a wrongly delivered command to act
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
    assert ours(rec.messages) == [f"forecourt/v1/{company_a}/demo-01/events/command.acknowledged"]
    assert pump_a.model.fp_view(1).nozzles[0].price_fen == 811
    assert pump_b.model.fp_view(1).nozzles[0].price_fen == price_before != 811
