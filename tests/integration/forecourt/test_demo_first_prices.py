"""``forecourt demo`` sends the demo station's first price set once its edge node listens (``seed_first_prices``).

Found by the price chain's end-to-end tests: the demo made the set before any service ran, so head office's
outbox publisher sent it at start, often before the edge node had subscribed to its commands (a set is a command:
the broker keeps nothing for an edge that is not there), and the pumps waited for the resend, a minute or two,
while fuellings were sold under no set. Here no job runs at all: the edge gets the set only if it is sent after
it listens.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import psycopg
import pytest

from business_services.bootstrap import outbox_publisher
from business_services.outbox import MqttSink
from edge_nodes.runtime import EdgeNode
from forecourt.demo import DEMO_STATION
from forecourt.simulate import DEMO_DISPENSER
from forecourt.stations import import_file, seed_first_prices
from telemetry.contracts.broker import BrokerAddress
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration


async def _sets(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        row = await (await conn.execute("SELECT count(*) FROM business.price_sets")).fetchone()
    return int(row[0]) if row else 0


async def test_the_first_set_goes_out_once_the_edge_listens_and_reaches_the_pumps(
        database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    await import_file(database_url, DEMO_STATION, ["92", "95"], group=group)
    async with dispenser(DEMO_DISPENSER) as server:
        node = EdgeNode(station_for(server, "demo-01"), broker, group=group, outbox_path=tmp_path / "outbox.sqlite",
                        price_set_path=tmp_path / "demo-01.price-set.json")
        publisher = outbox_publisher(database_url, MqttSink(broker, f"{group}-head-office-outbox"), poll_s=0.2)
        seeding = asyncio.create_task(seed_first_prices(database_url, "demo-01", group, node.connected))
        tasks = [seeding, asyncio.create_task(publisher.run())]
        try:
            await asyncio.sleep(1.0)
            assert await _sets(database_url) == 0 and not seeding.done()      # head office waits for the edge
            tasks.append(asyncio.create_task(node.run()))
            async with asyncio.timeout(20):                                   # the resend would take ≥ 60 s
                while not (node.prices.version == 1 and node.prices.books
                           and all(b.state == "applied" for b in node.prices.books.values())):
                    await asyncio.sleep(0.1)
            assert await _sets(database_url) == 1 and not seeding.done()      # idle after: the demo runs on
            assert {k: b.price_fen for k, b in node.prices.books.items()} == {
                "disp-01/fp1/n1": 789, "disp-01/fp1/n2": 836, "disp-01/fp2/n1": 789, "disp-01/fp2/n2": 836}
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
