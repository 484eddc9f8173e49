"""The station's whole price chain with real parts: the dispenser simulator over Modbus, the edge node, Mosquitto,
the station server's consumer and its follower of the edge's price-set file. A set with one refusing pump ends
partly applied in the station's GET …/prices (the refused nozzle with the price it still shows), and the orders
made from the pumps' fuellings carry the version each was sold under."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from control_api.app import create_app
from edge_nodes.runtime import EdgeNode
from forecourt.roles import Role
from forecourt.services import station_consumer
from forecourt.settings import Settings
from forecourt.station_prices import follow_price_set
from telemetry.contracts.broker import BrokerAddress
from tests.integration.edge.test_price_sets import TWO_SIDES, price_set, publish
from tests.support.auth import TEST_TOKENS, headers
from tests.support.station import dispenser, sell, station_for

pytestmark = pytest.mark.integration


async def test_a_partly_applied_set_and_orders_priced_by_the_set_on_their_pump(
        station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    price_file = tmp_path / "st-01.price-set.json"
    consumer = station_consumer(Settings(data_dir=tmp_path, group=group), station_database_url, broker, "st-01")
    async with dispenser(TWO_SIDES, speed=2.0) as server:
        node = EdgeNode(station_for(server, poll_s=0.2), broker, group=group,
                        outbox_path=tmp_path / "outbox.sqlite", price_set_path=price_file)
        tasks = [asyncio.create_task(t) for t in (node.run(), consumer.run(),
                                                  follow_price_set(station_database_url, price_file, every_s=0.1))]
        try:
            await asyncio.wait_for(asyncio.gather(node.connected.wait(), consumer.subscribed.wait()), 15)
            async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as db:
                async def until(query: str, expected: object) -> None:
                    async with asyncio.timeout(30):
                        while (await (await db.execute(query)).fetchall()) != expected:
                            await asyncio.sleep(0.1)

                applied = ("SELECT version, state, count(*) FROM business.station_price_nozzles "
                           "GROUP BY 1, 2 ORDER BY 1, 2")
                await publish(broker, group, price_set(1, 789, 836))
                await until(applied, [(1, "applied", 3)])
                await sell(server, 200, fp=2)                            # sold under version 1
                server.model.refuse_prices(2, 1)
                await publish(broker, group, price_set(2, 802, 851))
                await until(applied, [(1, "applied", 3), (2, "applied", 2), (2, "refused", 1)])
                await sell(server, 150, fp=1)                            # the new price on fp1
                await sell(server, 100, fp=2)                            # the refusing pump sells on, old price
                await until("SELECT fuelling_point, price_fen_per_l, price_set FROM business.orders "
                            "ORDER BY fuelled_at, order_no", [(2, 789, 1), (1, 802, 2), (2, 789, 1)])
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    with TestClient(create_app(station_database_url, tokens=TEST_TOKENS, role=Role.STATION)) as http:
        body = http.get("/api/v1/stations/st-01/prices", headers=headers(TEST_TOKENS, "price:read")).json()
    assert body["version_in_force"] == 1 and body["latest"]["state"] == "partly_applied"
    refused = [n for n in body["nozzles"] if n["state"] != "applied"]
    assert [(n["fuelling_point"], n["nozzle"], n["state"], n["price_fen"], n["old_price_fen"]) for n in refused] == [
        (2, 1, "refused", 802, 789)]
    assert "789" in refused[0]["detail"]                                 # what the pump read back
