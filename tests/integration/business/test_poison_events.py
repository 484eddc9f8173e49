"""Poison events on every event topic family the business consumer reads: each is dead-lettered with its kind
and reason, the next good fuelling is recorded, and the consumer keeps running (real broker, real PostgreSQL)."""

import aiomqtt
import psycopg
import pytest

from business_services.consumer import EventConsumer
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import event_topic
from tests.support.events import FUELLING, STATION, envelope, fuelling, gas_fill, running, wait_for

pytestmark = pytest.mark.integration

GAS, ACK, CHARGING = "gas_fill.completed", "command.acknowledged", "charging.completed"

# (name, topic type, payload, dead-letter kind, words in the reason)
POISON: list[tuple[str, str, bytes, str, str]] = [
    ("fuelling: NUL in the id", FUELLING, envelope(FUELLING, fuelling(7), "e\x00vil"), "invalid", "id"),
    ("fuelling: 10,000-character id", FUELLING, envelope(FUELLING, fuelling(7), "x" * 10_000), "invalid", "id"),
    ("fuelling: over the size limit", FUELLING, envelope(FUELLING, fuelling(7, pad="p" * 70_000)), "invalid",
     "byte limit"),
    ("fuelling: not JSON", FUELLING, b"\x00\x01 not json", "invalid", "not a valid CloudEvent"),
    ("fuelling: another station claimed", FUELLING, envelope(FUELLING, fuelling(7, station="other-02")),
     "security", "other-02"),
    ("fuelling: totalizers disagree", FUELLING, envelope(FUELLING, fuelling(7, totalizer_after_l=1041.0)),
     "handler", "totalizer"),
    ("fuelling: 10,000-character pump code", FUELLING, envelope(FUELLING, fuelling(7, pump="p" * 10_000)),
     "handler", "pump"),
    ("fuelling: type is not the topic's", FUELLING, envelope(GAS, gas_fill()), "invalid", "in the topic"),
    ("gas fill: mass missing", GAS, envelope(GAS, gas_fill(mass_kg=None)), "handler", "gas_fill.completed"),
    ("gas fill: NUL in the stop reason", GAS, envelope(GAS, gas_fill(stop_reason="pre\x00set")), "handler",
     "NUL"),
    ("gas fill: another station claimed", GAS, envelope(GAS, gas_fill(station="other-02")), "security",
     "other-02"),
    ("acknowledgement: NUL in the id", ACK, envelope(ACK, {"command_id": "c"}, "a\x00"), "invalid", "id"),
    ("acknowledgement: 10,000-character id", ACK, envelope(ACK, {}, "a" * 10_000), "invalid", "id"),
    ("unknown type: NUL in the id", CHARGING, envelope(CHARGING, {}, "c\x00"), "invalid", "id"),
    ("unknown type: unknown envelope field", CHARGING, envelope(CHARGING, {}, extra_field=1), "invalid",
     "extra_field"),
]


@pytest.mark.parametrize(("case", "event_type", "payload", "kind", "reason"), POISON, ids=[p[0] for p in POISON])
async def test_poison_is_dead_lettered_and_the_next_fuelling_is_recorded(
        database_url: str, broker: BrokerAddress, group: str, case: str, event_type: str, payload: bytes,
        kind: str, reason: str) -> None:
    consumer = EventConsumer(database_url, broker, client_id=f"b-{group}", group=group)
    async with running(consumer) as task, aiomqtt.Client(**broker.client_kwargs()) as station, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        await station.publish(event_topic(group, STATION, event_type), payload, qos=1)
        await station.publish(event_topic(group, STATION, FUELLING), envelope(FUELLING, fuelling(8)), qos=1)

        async def recorded() -> bool:
            cur = await db.execute("SELECT transaction_no FROM business.fuelling_transactions")
            return [r[0] for r in await cur.fetchall()] == [8]

        await wait_for(recorded)
        cur = await db.execute("SELECT kind, error, payload, topic_station FROM business.event_dead_letters")
        rows = await cur.fetchall()
        assert not task.done(), "the consumer keeps running"
        assert consumer.health()["ok"] is True
    assert len(rows) == 1, rows
    [(dead_kind, error, stored, topic_station)] = rows
    assert (dead_kind, topic_station) == (kind, STATION)
    assert reason in error and "\x00" not in error
    assert bytes(stored) == payload, "the raw bytes are kept as they arrived"
