"""POST a command to the control API: it reaches the pump through the edge node and comes back answered."""

import asyncio
import contextlib

import pytest

from edge_nodes.runtime import EdgeNode
from forecourt.local import free_port, wait_for_port
from forecourt.services import api_service
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import client
from tests.support.auth import TEST_TOKENS
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration


async def test_a_price_change_through_the_api(database_url: str, broker: BrokerAddress, group: str) -> None:
    port = free_port()
    async with dispenser() as server:
        node = EdgeNode(station_for(server, code="st-api"), broker, group=group)
        tasks = [asyncio.create_task(node.run()),
                 asyncio.create_task(api_service(database_url, "127.0.0.1", port, broker, group, TEST_TOKENS))]
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await wait_for_port("127.0.0.1", port)
            async with client(port, "device:command") as http:
                answer = await http.post("/api/v1/stations/st-api/commands", json={
                    "type": "command.set_price",
                    "data": {"device": "disp-01", "fuelling_point": 1, "nozzle": 2, "price_fen_per_l": 851}})
                assert answer.status_code == 200, answer.text
                assert answer.json()["result"] == "accepted"
                assert server.model.fp_view(1).nozzles[1].price_fen == 851
                wrong = await http.post("/api/v1/stations/st-api/commands", json={
                    "type": "command.set_price", "data": {"device": "disp-01", "fuelling_point": 9}})
                assert wrong.status_code == 422 and "fuelling_point" in wrong.text
                unknown = await http.post("/api/v1/stations/st-api/commands", json={"type": "open.sesame",
                                                                                    "data": {}})
                assert unknown.status_code == 422 and "未知命令" in unknown.text
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
