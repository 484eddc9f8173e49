"""A station server's audit chain reaches head office exactly once, as the station hashed it, and head office
verifies its copy per station: `forecourt audit verify --station` names a row edited there."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest

from business_services.audit.model import Actor, AuditEntry
from business_services.audit.shipping import ship
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.unit_of_work import UnitOfWork
from forecourt.cli import main
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress

pytestmark = pytest.mark.integration

STATION = "st-01"


async def station_actions(conn: psycopg.AsyncConnection, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        async with UnitOfWork(conn, Actor("cashier", "10.0.0.7", 12)) as uow:
            await uow.audit(AuditEntry("payment.refund", f"refund:{n}", STATION, {"refunded_fen": 0},
                                       {"refunded_fen": 100 * n, "reason": "多收"}))


async def outbox(conn: psycopg.AsyncConnection) -> list[tuple[str, bytes]]:
    cur = await conn.execute("SELECT topic, payload FROM business.outbox ORDER BY seq")
    return [(topic, json.dumps(payload).encode()) for topic, payload in await cur.fetchall()]


async def test_the_chain_goes_up_once_and_is_verified_per_station(database_url: str, station_database_url: str,
                                                                  broker: BrokerAddress,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    head_office = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as station, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as office:
        await station_actions(station, 7)
        assert await ship(station, STATION, "g", limit=5) == 5
        assert await ship(station, STATION, "g", limit=5) == 2
        assert await ship(station, STATION, "g") == 0                       # nothing new: nothing sent
        await station_actions(station, 3, start=7)
        assert await ship(station, STATION, "g") == 3
        events = await outbox(station)
        assert [t for t, _ in events] == [f"forecourt/v1/g/{STATION}/events/audit.recorded"] * 10
        for topic, body in events + events[:4]:                              # four delivered twice
            await head_office.handle(office, topic, body)
        cur = await office.execute("SELECT seq FROM business.audit_station_copies WHERE origin = %s ORDER BY seq",
                                   (STATION,))
        assert [seq for (seq,) in await cur.fetchall()] == list(range(1, 11))

    assert await asyncio.to_thread(main, ["audit", "verify", "--database-url", database_url, "--station", STATION]) == 0
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as office:
        await office.execute("""UPDATE business.audit_station_copies SET after = '{"refunded_fen": 1}'
                                WHERE origin = %s AND seq = 4""", (STATION,))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "verify", "--database-url", database_url, "--station", STATION]) == 1
    assert "第 4 条" in capsys.readouterr().out
    # head office's own chain is another chain: untouched, still intact
    assert await asyncio.to_thread(main, ["audit", "verify", "--database-url", database_url]) == 0
