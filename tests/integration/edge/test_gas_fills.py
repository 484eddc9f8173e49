"""A CNG fill on the OPC UA gas skid becomes one ``gas_fill.completed`` event, recorded once by the business side."""

import asyncio
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from business_services.consumer import EventConsumer
from edge_nodes.devices.opcua import OpcUaSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from simulators.clock import SimClock
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.server import GasSkidServer
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.gas import GasFillCompleted
from telemetry.contracts.topics import events_filter
from tests.support.mqtt import recording

pytestmark = pytest.mark.integration

STATION = """
station: gas-02
devices:
  - protocol: opcua
    code: skid-01
    kind: gas_skid
    endpoint: {endpoint}
    profile: gas-skid-v1
    cng_dispensers: 1
    lng_dispensers: 0
    publishing_interval_ms: 50
    timeout_s: 1
    reconnect_s: 0.1
"""


async def test_a_cng_fill_is_one_event_and_one_row(database_url: str, broker: BrokerAddress, group: str,
                                                   tmp_path: Path) -> None:
    async with GasSkidServer(GasSkidConfig(), SimClock(30.0), port=0, publish_interval_s=0.05) as skid, \
            recording(broker, events_filter(group, "gas-02")) as rec:
        path = tmp_path / "gas-02.yaml"
        path.write_text(STATION.format(endpoint=skid.endpoint), encoding="utf-8")
        node = EdgeNode(load_station(path), broker, group=group)
        business = EventConsumer(database_url, broker, client_id=f"b-{group}", group=group)
        tasks = [asyncio.create_task(node.run()), asyncio.create_task(business.run())]
        try:
            await asyncio.wait_for(node.connected.wait(), 15)
            source = next(s for s in node.sources if isinstance(s, OpcUaSource))
            await asyncio.sleep(0.5)
            [number] = await source.call("GasSkid/CngDispenser1/StartFill", 5.0)     # a 5 kg preset
            await rec.wait_until(lambda: any(t.endswith("/gas_fill.completed") for t, _ in rec.messages),
                                 within_s=30)
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                for _ in range(100):
                    rows = await (await conn.execute(
                        "SELECT product, transaction_no, mass_kg, amount_fen, price_fen_per_kg FROM business.gas_fills"
                    )).fetchall()
                    if rows:
                        break
                    await asyncio.sleep(0.1)
        finally:
            for t in tasks:
                while not t.done():
                    t.cancel()
                    await asyncio.wait([t], timeout=1.0)
    [event] = [CloudEvent.from_bytes(raw) for t, raw in rec.messages if t.endswith("/gas_fill.completed")]
    assert event.data["product"] == "CNG" and event.data["transaction"] == number
    fill = GasFillCompleted.from_event(event)     # what the business consumer parses
    assert fill.mass_kg == pytest.approx(Decimal("5.0"), abs=Decimal("0.01")) and fill.stop_reason == "preset_reached"
    assert fill.mass_kg == round(fill.mass_kg, 2)
    [(product, transaction, mass, amount, price)] = rows
    assert (product, transaction) == ("CNG", number) and float(mass) == pytest.approx(5.0, abs=0.01)
    assert amount == (round(float(mass) * 100) * price + 50) // 100      # the skid's own half-up rule
