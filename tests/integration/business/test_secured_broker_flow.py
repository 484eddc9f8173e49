"""On a Mosquitto configured only by ``forecourt mqtt-auth``'s files, every service with its own login:

- station st-01's login cannot record anything for st-02: publishing under st-02's topic is refused by the
  broker, and a payload on its own topic that claims st-02 is a security dead letter (metric, WARNING line);
- the whole command flow: the control API authorises a nozzle with a preset and sets a price (read back by
  the pump) through a real edge node and dispenser simulator; the fuelling it allowed is recorded by the
  business consumer and shown by the API.
"""

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import psycopg
import pytest

from business_services.consumer import REGISTRY, EventConsumer
from edge_nodes.runtime import EdgeNode
from forecourt.local import free_port, wait_for_port
from forecourt.services import api_service
from telemetry.contracts.session import host_state
from telemetry.contracts.topics import event_topic, state_topic
from tests.integration.api.support import client
from tests.support.auth import TEST_TOKENS
from tests.support.events import FUELLING, envelope, fuelling, running, wait_for
from tests.support.mosquitto import HOST_ID, MOSQUITTO, Secured, mosquitto
from tests.support.station import dispenser, station_for

pytestmark = [pytest.mark.integration, pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not on PATH")]


@pytest.fixture(scope="module")
def secured() -> Iterator[Secured]:
    work = Path(tempfile.mkdtemp(prefix="forecourt-secured-flow-"))
    try:
        with mosquitto(work) as broker:
            yield broker
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.asynccontextmanager
async def business(secured: Secured, database_url: str) -> AsyncIterator[EventConsumer]:
    consumer = EventConsumer(database_url, secured.address("business"), client_id=f"b-{secured.group}",
                             group=secured.group)
    async with running(consumer):
        yield consumer


async def _rows(db: psycopg.AsyncConnection, sql: str) -> list[tuple[object, ...]]:
    cur = await db.execute(sql)  # type: ignore[arg-type]
    return await cur.fetchall()


async def test_station_a_cannot_record_anything_for_station_b(secured: Secured, database_url: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    g = secured.group
    forged_before = REGISTRY.get_sample_value("forecourt_business_forged_events_total") or 0
    caplog.set_level(logging.WARNING, logger="business_services.consumer")
    big = fuelling(41, station="st-02", volume_l=500.0, amount_fen=394_500, price_fen_per_l=789,
                   totalizer_after_l=1500.0)                                # 500 L, ¥3,945, claimed for st-02
    async with business(secured, database_url), \
            aiomqtt.Client(**secured.address("st-01").client_kwargs()) as station_a, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        await station_a.publish(event_topic(g, "st-02", FUELLING), envelope(FUELLING, big | {"station": "st-02"}),
                                qos=1)                                      # refused by the broker's ACL
        await station_a.publish(event_topic(g, "st-01", FUELLING), envelope(FUELLING, big), qos=1)
        await station_a.publish(event_topic(g, "st-01", FUELLING), envelope(FUELLING, fuelling(42)), qos=1)

        async def own_recorded() -> bool:
            return await _rows(db, "SELECT station, transaction_no FROM business.fuelling_transactions") != []

        await wait_for(own_recorded)
        recorded = await _rows(db, "SELECT station, transaction_no FROM business.fuelling_transactions")
        dead = await _rows(db, "SELECT kind, topic_station, claimed_station FROM business.event_dead_letters")
    assert recorded == [("st-01", 42)], "nothing for st-02, st-01's own fuelling as usual"
    assert dead == [("security", "st-01", "st-02")]
    assert REGISTRY.get_sample_value("forecourt_business_forged_events_total") == forged_before + 1
    [warning] = [r for r in caplog.records if "SECURITY" in r.getMessage()]
    assert "topic station st-01, claimed station st-02" in warning.getMessage()


async def test_the_whole_command_flow_under_the_generated_acl(secured: Secured, database_url: str) -> None:
    g, port = secured.group, free_port()
    log_from = secured.log.stat().st_size
    async with dispenser(speed=4.0) as server, business(secured, database_url), \
            aiomqtt.Client(**secured.address("ingest").client_kwargs()) as primary:
        await primary.publish(state_topic(HOST_ID), host_state(True, 1), qos=1, retain=True)
        node = EdgeNode(station_for(server, code="st-01"), secured.address("st-01"), group=g, primary_host=HOST_ID)
        tasks = [asyncio.create_task(node.run()),
                 asyncio.create_task(api_service(database_url, "127.0.0.1", port, secured.address("control-api"),
                                                 group=g, tokens=TEST_TOKENS))]
        try:
            await asyncio.wait_for(node.connected.wait(), 15)
            await wait_for_port("127.0.0.1", port)
            async with client(port, "device:command", "fuelling:read") as http:
                price = await http.post("/api/v1/stations/st-01/commands", json={
                    "type": "command.set_price",
                    "data": {"device": "disp-01", "fuelling_point": 1, "nozzle": 1, "price_fen_per_l": 802}})
                assert price.status_code == 200, price.text
                assert price.json()["result"] == "accepted" and "802" in price.json()["detail"]   # read back
                assert server.model.fp_view(1).nozzles[0].price_fen == 802

                server.model.lift_nozzle(1, 1)
                authorise = await http.post("/api/v1/stations/st-01/commands", json={
                    "type": "command.authorize_nozzle",
                    "data": {"device": "disp-01", "fuelling_point": 1, "nozzle": 1, "preset_type": "volume",
                             "preset_value": 150}})                        # 1.50 L
                assert authorise.status_code == 200, authorise.text
                assert authorise.json()["result"] == "accepted"

                async def shown() -> bool:
                    return bool((await http.get("/api/v1/stations/st-01/fuelling-transactions")).json())

                await wait_for(shown, within_s=40)
                [sale] = (await http.get("/api/v1/stations/st-01/fuelling-transactions")).json()
                assert float(sale["volume_l"]) == 1.5 and sale["amount_fen"] == round(1.5 * 802)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await primary.publish(state_topic(HOST_ID), b"", qos=1, retain=True)
    with secured.log.open("rb") as log:
        log.seek(log_from)
        assert b"Denied" not in log.read(), "no service was refused anything it needs"
