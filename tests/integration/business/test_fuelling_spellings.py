"""The consumer records ``fuelling.completed`` and still the legacy ``fueling.completed`` of edge outboxes written
before the upgrade; the same transaction under both spellings (same id) is recorded once, litres exact."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest

from business_services.consumer import REGISTRY, EventConsumer
from business_services.fuelling import views
from edge_nodes.transactions import fuelling_event
from telemetry.contracts.broker import BrokerAddress

pytestmark = pytest.mark.integration

RECORD: dict[str, object] = {"transaction": 5, "nozzle": 1, "grade": 92, "volume": 20.3, "amount": 16017,
                             "price": 789, "start": 1_772_352_000, "end": 1_772_352_040, "volume_total": 1020.0,
                             "end_reason": 1}


def _legacy(raw: bytes) -> bytes:
    """The same event as an edge before the upgrade wrote it: the old type, litres as JSON numbers."""
    event = json.loads(raw)
    event["type"] = "fueling.completed"
    for key in ("volume_l", "totalizer_before_l", "totalizer_after_l"):
        event["data"][key] = float(event["data"][key])
    return json.dumps(event).encode()


async def test_the_legacy_spelling_is_recorded_and_a_repeat_under_the_new_one_is_not(
        database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker)
    new = fuelling_event("st-01", "disp-01", 1, RECORD).to_bytes()
    repeats = {"type": "fuelling.completed", "outcome": "repeat"}
    repeats_before = REGISTRY.get_sample_value("forecourt_business_events_total", repeats) or 0.0
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await consumer.handle(conn, "forecourt/v1/g/st-01/events/fueling.completed", _legacy(new))
        await consumer.handle(conn, "forecourt/v1/g/st-01/events/fuelling.completed", new)
        [row] = await views.recent_fuellings(conn, "st-01")
        dead = await (await conn.execute("SELECT count(*) FROM business.event_dead_letters")).fetchone()
    assert (row["volume_l"], row["totalizer_before_l"], row["totalizer_after_l"]) == (
        Decimal("20.30"), Decimal("999.70"), Decimal("1020.00"))
    assert dead == (0,)
    assert REGISTRY.get_sample_value("forecourt_business_events_total", repeats) == repeats_before + 1


async def test_the_new_spelling_alone_is_recorded_with_exact_litres(database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker)
    record = RECORD | {"volume": 0.1 + 0.2, "volume_total": 1000.3, "amount": 237}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await consumer.handle(conn, "forecourt/v1/g/st-01/events/fuelling.completed",
                              fuelling_event("st-01", "disp-01", 1, record).to_bytes())
        [row] = await views.recent_fuellings(conn, "st-01")
    assert (row["volume_l"], row["totalizer_before_l"]) == (Decimal("0.30"), Decimal("1000.00"))
