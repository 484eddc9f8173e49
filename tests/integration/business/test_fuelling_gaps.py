"""A ``fuelling.gap`` event through the business consumer: recorded once, settled once; a bad one dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.consumer import EventConsumer
from business_services.fuelling import views
from business_services.fuelling.model import InvalidCommand, SettleGap
from business_services.unit_of_work import UnitOfWork
from edge_nodes.transactions import gap_event
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.fuelling import FuellingGap

pytestmark = pytest.mark.integration

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GAP = FuellingGap(station="st-01", pump="disp-01", fuelling_point=1, nozzle=1, grade=92, missing_transactions=(2, 3),
                  totalizer_from_l="1020.00", totalizer_to_l="1057.25", volume_l="37.25", detected_at=T)
TOPIC = "forecourt/v1/g/st-01/events/fuelling.gap"
MANAGER = Actor("li.si", "127.0.0.1", user_id=3)


async def test_a_gap_is_recorded_once_and_settled_once(database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker)
    raw = gap_event(GAP).to_bytes()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await consumer.handle(conn, TOPIC, raw)
        await consumer.handle(conn, TOPIC, raw)                    # redelivered
        [row] = await views.open_gaps(conn, "st-01")
        assert (row["missing_transactions"], str(row["volume_l"]), str(row["totalizer_to_l"])) == (
            [2, 3], "37.25", "1057.25")
        with pytest.raises(InvalidCommand, match="who settles"):
            SettleGap(int(row["id"]), "", " ", T)

        async def settle(note: str) -> bool:
            async with UnitOfWork(conn, MANAGER) as uow:
                return bool(await consumer.bus.handle(SettleGap(int(row["id"]), "manager-li", note, T), uow))

        assert await settle("matched POS sales 08:00-08:20")
        assert not await settle("again")                           # a retried request changes nothing
        assert await views.open_gaps(conn, "st-01") == []
        status = await (await conn.execute("SELECT status, settled_by FROM business.fuelling_gaps")).fetchall()
        assert status == [("settled", "manager-li")]
        audit = await (await conn.execute("SELECT action, actor, station FROM business.audit_log")).fetchall()
        assert audit == [("fuelling.gap.settle", "li.si", "st-01")]                # one record, for the one change


async def test_a_gap_whose_litres_do_not_match_its_totalizers_is_dead_lettered_not_recorded(
        database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker)
    event = gap_event(GAP)
    bad = event.model_copy(update={"data": {**event.data, "volume_l": "30.00"}})
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await consumer.handle(conn, TOPIC, bad.to_bytes())
        assert await views.open_gaps(conn, "st-01") == []
        [(error,)] = await (await conn.execute("SELECT error FROM business.event_dead_letters")).fetchall()
        assert "totalizer_to_l" in error
