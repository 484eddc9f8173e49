"""While the database is away an event waits (never dead-lettered), and /healthz turns 503 once it has waited
too long; when the database is back the event is recorded and health is green again."""

import asyncio

import aiomqtt
import httpx
import psycopg
import pytest

from business_services.consumer import REGISTRY, EventConsumer
from forecourt.health import serve_health
from forecourt.local import free_port
from forecourt.services import business_health, business_metrics_text
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import event_topic
from tests.support.events import FUELLING, envelope, fuelling, running, wait_for

pytestmark = pytest.mark.integration


async def test_a_stalled_consumer_is_unhealthy_until_the_database_returns(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    consumer = EventConsumer(unreachable, broker, client_id=f"b-{group}", group=group, stall_after_s=1.0)
    port = free_port()
    server = await serve_health("127.0.0.1", port, business_metrics_text, lambda: business_health(consumer))
    try:
        async with running(consumer), aiomqtt.Client(**broker.client_kwargs()) as station, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).status_code == 200        # subscribed, nothing waiting
            await station.publish(event_topic(group, "st-01", FUELLING), envelope(FUELLING, fuelling(8)), qos=1)

            async def red() -> bool:
                return (await http.get("/healthz")).status_code == 503

            await wait_for(red)
            body = (await http.get("/healthz")).json()
            assert body["status"] == "down" and body["checks"]["consumer"]["detail"]["stalled_s"] >= 1.0
            assert (REGISTRY.get_sample_value("forecourt_business_stalled_seconds") or 0) >= 1.0

            consumer.database_url = database_url                           # the database is back
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
                async def recorded() -> bool:
                    cur = await db.execute("SELECT count(*) FROM business.fuelling_transactions")
                    return (await cur.fetchone()) == (1,)

                await wait_for(recorded)
                cur = await db.execute("SELECT count(*) FROM business.event_dead_letters")
                assert await cur.fetchone() == (0,), "an outage is waited out, never dead-lettered"
            assert (await http.get("/healthz")).status_code == 200
    finally:
        server.close()
        await asyncio.sleep(0)
