"""A price set on the gas skid (OPC UA): each dispenser's unit price written and read back while it is idle, a
dispenser in a fill waits (pending), a hose the skid does not have is refused with a clear detail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from edge_nodes.devices.opcua import OpcUaSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from simulators.clock import SimClock
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.server import GasSkidServer
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import command_topic
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.prices import REPLACE_PRICE_SET, PriceApplied, PriceSet
from tests.integration.edge.test_opcua_edge_node import STATION, _stop

pytestmark = [pytest.mark.integration, pytest.mark.serial]


async def test_gas_skid_prices(broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    async with GasSkidServer(GasSkidConfig(), SimClock(1.0), port=0, publish_interval_s=0.05) as skid:
        path = tmp_path / "gas-01.yaml"
        path.write_text(STATION.format(endpoint=skid.endpoint), encoding="utf-8")
        node = EdgeNode(load_station(path), broker, group=group, price_set_path=tmp_path / "gas-01.price-set.json")
        reports: dict[int, PriceApplied] = {}
        put = node.outbox.put_event

        async def spy(topic: str, body: bytes) -> None:
            event = CloudEvent.from_bytes(body)
            if event.type == "price.applied":
                r = PriceApplied.model_validate(event.data)
                reports[r.fuelling_point] = r
            await put(topic, body)
        node.outbox.put_event = spy  # type: ignore[method-assign]

        async def until(predicate: Callable[[], bool], within_s: float = 20) -> None:
            async with asyncio.timeout(within_s):
                while not predicate():
                    await asyncio.sleep(0.1)

        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 15)
            source = next(s for s in node.sources if isinstance(s, OpcUaSource))
            # its station file asks each OPC UA request to answer within 1 s: on a loaded machine the first
            # connects can time out and back off (CI once took over 20 s), so the connection has a minute
            await until(lambda: source.connected, within_s=60)
            assert await source.call("GasSkid/CngDispenser2/StartFill", 0.0) == [1]    # cng2 is filling
            s = PriceSet.model_validate({
                "station": "gas-01", "version": 1, "effective_at": datetime.now(UTC).isoformat(),
                "grades": {"CNG": 480, "LNG": 560}, "units": {"CNG": "kg", "LNG": "kg"},
                "nozzles": [{"device": "skid-01", "fuelling_point": fp, "nozzle": 1, "grade": g, "price_fen": p}
                            for fp, g, p in ((1, "CNG", 480), (2, "CNG", 480), (3, "LNG", 560), (4, "LNG", 560))]
                + [{"device": "skid-01", "fuelling_point": 1, "nozzle": 2, "grade": "CNG", "price_fen": 480}]})
            async with aiomqtt.Client(**broker.client_kwargs()) as head_office:
                await head_office.publish(command_topic(group, "gas-01", REPLACE_PRICE_SET),
                                          s.envelope(event_id=s.event_id(), source="test").to_bytes(), qos=1)
            await until(lambda: {fp: r.state for fp, r in reports.items()} == {
                1: "refused", 2: "pending", 3: "applied", 4: "applied"})
            assert (await source.read("lng1/price")).value == 560
            assert (await source.read("cng2/price")).value == 450          # never during a fill
            assert "nozzle 1 each" in reports[1].detail                     # fp1 nozzle 2: no such hose
            book = node.prices.books
            assert book["skid-01/fp1/n1"].state == "applied" and book["skid-01/fp1/n2"].state == "refused"
            assert (await source.read("cng1/price")).value == 480
        finally:
            await _stop(task)
