"""The pay endpoint's short path for tenders that answer at once (cash, bank card voucher, other): two
transactions on one connection with the Idempotency-Key claimed in the first and the answer stored in the
second (control_api/idempotency.py ``once_in_two_transactions``), the day's number written by the statement
that writes the payment (business_services/numbers.py ``NEXT``), and the unit of work's outbox in one
statement. Real PostgreSQL and the station server's real API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.numbers import Kind, next_number
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from tests.integration.sales.payments_support import STATION, add_orders, cash, cashier, open_shift, scalar, station_api

pytestmark = pytest.mark.integration
PAYMENTS = f"/api/v1/stations/{STATION}/payments"
AT = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)          # 11:00 in Shanghai: the local day is 20261204


async def test_numbers_are_padded_to_five_digits_and_grow_past_them(station_database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        assert await next_number(conn, STATION, Kind.PAYMENT, AT) == f"{STATION}-20261204-P00001"
        await conn.execute("UPDATE business.document_counters SET last = 99998 WHERE kind = 'P'")
        assert await next_number(conn, STATION, Kind.PAYMENT, AT) == f"{STATION}-20261204-P99999"
        assert await next_number(conn, STATION, Kind.PAYMENT, AT) == f"{STATION}-20261204-P100000"
        assert await next_number(conn, STATION, Kind.REFUND, AT) == f"{STATION}-20261204-R00001"
        local_next_day = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)     # 00:30 on the 5th in Shanghai
        assert await next_number(conn, STATION, Kind.PAYMENT, local_next_day) == f"{STATION}-20261205-P00001"


async def test_a_refused_payment_takes_no_number_and_its_refusal_is_replayed(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 5000)
    async with station_api(url) as (app, http):
        auth = {**cashier(app), "Idempotency-Key": str(uuid.uuid4())}
        body = {"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(6000)]}     # more than is owed
        first = await http.post(PAYMENTS, headers=auth, json=body)
        again = await http.post(PAYMENTS, headers=auth, json=body)
        reused = await http.post(PAYMENTS, headers=auth, json={**body, "tenders": [cash(5000)]})
        paid = await http.post(PAYMENTS, headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                               json={**body, "tenders": [cash(5000)]})
    assert first.status_code == 409 and again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["detail"] == first.json()["detail"]
    assert reused.status_code == 422 and reused.json()["errors"][0]["field"] == "Idempotency-Key"
    assert paid.status_code == 200, paid.text
    assert paid.json()["payments"][0]["payment_no"].endswith("-P00001")       # the refusal left no gap
    assert await scalar(url, "SELECT count(*) FROM business.payments") == 1


async def test_concurrent_payments_get_consecutive_numbers_and_one_outbox_row_each(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    orders = await add_orders(url, *([1000] * 20))
    async with station_api(url) as (app, http):
        auth = cashier(app)
        answers = await asyncio.gather(*[
            http.post(PAYMENTS, headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                      json={"terminal": "pos-1", "order_nos": [o], "tenders": [cash(1000)]}) for o in orders])
    assert {a.status_code for a in answers} == {200}
    numbers = sorted(a.json()["payments"][0]["payment_no"] for a in answers)
    assert [n.rsplit("-P", 1)[1] for n in numbers] == [f"{i:05d}" for i in range(1, 21)]
    assert await scalar(url, "SELECT count(*) FROM business.outbox WHERE topic LIKE %s", "%/payment.captured") == 20
    assert await scalar(url, "SELECT count(*) FROM business.orders WHERE status = 'paid'") == 20
    assert await scalar(url, "SELECT count(*) FROM business.api_idempotency WHERE status = 200") == 20


async def test_the_outbox_keeps_the_order_events_were_emitted_in_and_skips_repeats(station_database_url: str) -> None:
    def event(n: int) -> CloudEvent:
        return CloudEvent(id=f"uow-test-{n}", source="tests", type="test.happened", data={"n": n})

    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        async with UnitOfWork(conn, Actor("tests", "127.0.0.1")) as uow:
            for n in (3, 1, 2, 1):                      # the repeat of 1 is written once
                uow.emit(f"forecourt/v1/demo-co/{STATION}/events/test.happened", event(n))
            uow.raise_event(event(9))
            uow.raise_event(event(9))
        async with conn.transaction():                  # a caller's transaction that a unit of work joins
            async with UnitOfWork(conn, Actor("tests", "127.0.0.1"), joined=True) as uow:
                uow.emit(f"forecourt/v1/demo-co/{STATION}/events/test.happened", event(4))
            await conn.execute("SELECT 1")
        outbox = await conn.execute("SELECT event_id, payload ->> 'id' FROM business.outbox ORDER BY seq")
        rows = await outbox.fetchall()
        handled = await (await conn.execute("SELECT event_id FROM business.handled_events WHERE event_id LIKE "
                                            "'uow-test-%'")).fetchall()
        with pytest.raises(psycopg.errors.UndefinedTable):     # a joined unit of work rolls back with its caller
            async with conn.transaction():
                async with UnitOfWork(conn, Actor("tests", "127.0.0.1"), joined=True) as uow:
                    uow.emit(f"forecourt/v1/demo-co/{STATION}/events/test.happened", event(5))
                await conn.execute("SELECT * FROM no_such_table")
        after = await (await conn.execute("SELECT count(*) FROM business.outbox")).fetchone()
    assert [r[0] for r in rows] == ["uow-test-3", "uow-test-1", "uow-test-2", "uow-test-4"]
    assert [r[0] == r[1] for r in rows] == [True] * 4
    assert handled == [("uow-test-9",)]
    assert after == (4,)


async def test_a_cash_payments_answer_is_json_and_its_replay_the_same_answer(station_database_url: str) -> None:
    """The answer is serialized once (``model_dump_json``) and stored under the key as that text: the replay
    reads it back from the key's jsonb column and must be the same answer, Chinese and times included."""
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 4321)
    async with station_api(url) as (app, http):
        auth = {**cashier(app), "Idempotency-Key": str(uuid.uuid4())}
        body = {"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(4321)]}
        first = await http.post(PAYMENTS, headers=auth, json=body)
        again = await http.post(PAYMENTS, headers=auth, json=body)
    assert first.status_code == 200 and again.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    [payment] = first.json()["payments"]
    assert (payment["state"], payment["amount_fen"], payment["allocations"][0]["order_no"]) == ("succeeded", 4321,
                                                                                                 order_no)
    assert datetime.fromisoformat(payment["created_at"]).tzinfo is not None
    stored = await scalar(url, "SELECT body FROM business.api_idempotency WHERE status = 200")
    assert stored == first.json()
