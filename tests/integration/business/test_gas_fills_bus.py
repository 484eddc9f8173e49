"""A ``gas_fill.completed`` event through the consumer and the bus: one row, a repeat ignored, the view shows it."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from business_services.consumer import EventConsumer
from business_services.gas import views
from telemetry.contracts.broker import BrokerAddress
from tests.support.events import envelope, gas_fill

pytestmark = pytest.mark.integration

TOPIC = "forecourt/v1/g/st-01/events/gas_fill.completed"


async def test_a_fill_is_recorded_once_and_read_through_the_view(database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker)
    raw = envelope("gas_fill.completed", gas_fill(mass_kg="5.00", amount_fen=2250))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await consumer.handle(conn, TOPIC, raw)
        await consumer.handle(conn, TOPIC, raw)                    # redelivered
        await consumer.handle(conn, TOPIC, envelope("gas_fill.completed", gas_fill(transaction=4)))
        fills = await views.recent_fills(conn, "st-01")
        handled = await (await conn.execute("SELECT count(*) FROM business.handled_events")).fetchone()
    assert sorted((f["transaction_no"], f["mass_kg"], f["amount_fen"]) for f in fills) == [   # same end time
        (3, Decimal("5.00"), 2250), (4, Decimal("5.00"), 2250)]
    assert handled == (2,)
