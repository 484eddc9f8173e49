"""A unit of work commits a handler's rows, its audit records and its events together, or none of them."""

from __future__ import annotations

import psycopg
import pytest

from business_services.audit.model import Actor, AuditEntry
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent

pytestmark = pytest.mark.integration

ACTOR = Actor("zhang.san", "127.0.0.1", user_id=7)


async def counts(conn: psycopg.AsyncConnection) -> tuple[int, int]:
    cur = await conn.execute("SELECT (SELECT count(*) FROM business.audit_log), (SELECT count(*) FROM business.outbox)")
    row = await cur.fetchone()
    assert row is not None
    return row[0], row[1]


async def test_a_committed_unit_writes_its_audit_record_and_outbox_event(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        async with UnitOfWork(conn, ACTOR) as uow:
            seq = await uow.audit(AuditEntry("stations.nozzle.change", "demo-01/fp1/n2", "demo-01",
                                             {"grade": 92}, {"grade": 95}))
            uow.emit("forecourt/v1/demo-co/demo-01/events/stations.changed",
                     CloudEvent(source="head-office", type="stations.changed", data={"version": 2}))
        assert seq == 1
        assert await counts(conn) == (1, 1)
        cur = await conn.execute("SELECT actor, actor_id, before, after FROM business.audit_log")
        assert await cur.fetchone() == ("zhang.san", 7, {"grade": 92}, {"grade": 95})


async def test_a_failed_unit_leaves_no_audit_record_and_no_event(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        with pytest.raises(RuntimeError):
            async with UnitOfWork(conn, ACTOR) as uow:
                await uow.audit(AuditEntry("price.change", "demo-01/95", "demo-01", 836, 850))
                uow.emit("t", CloudEvent(source="head-office", type="prices.changed"))
                raise RuntimeError("the handler broke a rule")
        assert await counts(conn) == (0, 0)


async def test_records_chain_one_after_another(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for n in range(3):
            async with UnitOfWork(conn, ACTOR) as uow:
                await uow.audit(AuditEntry("auth.login", f"user:{n}"))
        cur = await conn.execute("SELECT seq, prev_hash, hash FROM business.audit_log ORDER BY seq")
        rows = await cur.fetchall()
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[1][1] == rows[0][2] and rows[2][1] == rows[1][2]


async def test_a_joined_unit_leaves_its_outbox_statement_to_be_sent_with_the_commit(database_url: str) -> None:
    """``with_commit``: the outbox statement bound on the client, sent by the caller with its COMMIT (a payload
    with quotes, a backslash, a percent sign and Chinese comes out as it went in); not sent, nothing is written."""
    data = {"note": "它's 100% \\ \"加油\"", "amount_fen": 30000}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for send in (False, True):
            await conn.execute("BEGIN")
            with_commit: list[str] = []
            async with UnitOfWork(conn, ACTOR, joined=True, with_commit=with_commit) as uow:
                event = CloudEvent(source="station", type="payment.captured", data=data)
                uow.emit("forecourt/v1/demo-co/demo-01/events/payment.captured", event)
                uow.raise_event(event)
                uow.take_raised()
            assert len(with_commit) == 1 and await counts(conn) == (0, 0)   # nothing sent yet
            await conn.execute("; ".join([*with_commit, "COMMIT"]) if send else "ROLLBACK")
            cur = await conn.execute("SELECT o.payload -> 'data', o.topic, h.event_type FROM business.outbox o "
                                     "JOIN business.handled_events h USING (event_id) WHERE event_id = %s", (event.id,))
            assert await cur.fetchone() == ((data, "forecourt/v1/demo-co/demo-01/events/payment.captured",
                                             "payment.captured") if send else None)
        assert await counts(conn) == (0, 1)
    with pytest.raises(ValueError, match="joined"):
        UnitOfWork(conn, ACTOR, with_commit=[])
