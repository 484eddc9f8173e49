"""Head office posts each station payment and refund to the ledger once; the database keeps double entry
whatever code writes to it; the API shows balances and statements in the caller's scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.unit_of_work import UnitOfWork
from control_api.app import create_app
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded
from tests.support.auth import TEST_TOKENS, admin_headers

pytestmark = pytest.mark.integration

STATION = "st-01"
SHIFT = "st-01-20261204-S00001"
NOW = datetime(2026, 12, 4, 8, tzinfo=UTC)


def captured(n: int, method: Method, fen: int) -> PaymentCaptured:
    return PaymentCaptured(payment_no=f"st-01-20261204-P{n:05d}", station=STATION, shift_no=SHIFT, terminal="pos-1",
                           cashier="c", method=method, amount_fen=fen,
                           allocations=(Allocation(order_no=f"st-01-20261204-O{n:05d}", amount_fen=fen),),
                           captured_at=NOW)


def refunded(n: int, of: int, fen: int) -> PaymentRefunded:
    return PaymentRefunded(refund_no=f"st-01-20261204-R{n:05d}", payment_no=f"st-01-20261204-P{of:05d}",
                           station=STATION, shift_no=SHIFT, method=Method.CASH, amount_fen=fen,
                           allocations=(Allocation(order_no=f"st-01-20261204-O{of:05d}", amount_fen=fen),),
                           reason="多收", refunded_by="manager", refunded_at=NOW)


async def deliver(consumer: EventConsumer, conn: psycopg.AsyncConnection,
                  payload: PaymentCaptured | PaymentRefunded) -> None:
    event = payload.envelope(source=f"station:{STATION}", event_id=payload.event_id())
    await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())


async def balances(conn: psycopg.AsyncConnection) -> dict[str, int]:
    cur = await conn.execute("SELECT code, balance FROM business.ledger_balances")
    return {code: balance for code, balance in await cur.fetchall()}


async def test_payments_and_refunds_post_once(database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in [captured(1, Method.CASH, 29000), captured(2, Method.WECHAT, 15000),
                        captured(1, Method.CASH, 29000),                           # delivered twice
                        refunded(1, 1, 700), refunded(1, 1, 700)]:
            await deliver(consumer, conn, payload)
        assert await balances(conn) == {f"drawer:{STATION}:{SHIFT}": 28300, f"clearing:wechat:{STATION}": 15000,
                                        f"sales:{STATION}": 43300}
        entries = await (await conn.execute("SELECT count(*) FROM business.ledger_entries")).fetchone()
        assert entries == (3,)


async def test_the_same_payment_posted_concurrently_posts_once(database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    bus = consumer.bus
    event = captured(5, Method.ALIPAY, 1234)
    envelope = event.envelope(source="t", event_id=event.event_id())

    async def post() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            try:
                async with UnitOfWork(conn, Actor.system("test")) as uow:
                    await bus.handle(envelope, uow)
            except psycopg.errors.UniqueViolation:
                pass      # the loser of a race on the idempotency key: its whole entry rolls back

    await asyncio.gather(*(post() for _ in range(10)))
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await balances(conn) == {f"clearing:alipay:{STATION}": 1234, f"sales:{STATION}": 1234}


async def test_the_database_refuses_what_breaks_double_entry(database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await deliver(consumer, conn, captured(1, Method.CASH, 500))
        with pytest.raises(psycopg.errors.CheckViolation, match="does not balance"):
            async with conn.transaction():
                cur = await conn.execute("INSERT INTO business.ledger_entries (idempotency_key, kind, reference, "
                                         "occurred_at) VALUES ('x', 'manual', 'x', now()) RETURNING id")
                (entry_id,) = await cur.fetchone() or (0,)
                await conn.execute("INSERT INTO business.ledger_postings VALUES (%s, %s, 100, 'fen')",
                                   (entry_id, f"sales:{STATION}"))
        for statement in ["UPDATE business.ledger_postings SET amount = amount + 1",
                          "DELETE FROM business.ledger_entries"]:
            with pytest.raises(psycopg.errors.CheckViolation, match="append-only"):
                await conn.execute(statement)
        await conn.execute("INSERT INTO business.ledger_accounts (code, name, kind, unit, may_go_negative) "
                           "VALUES ('purse:m1', '储值', 'liability', 'fen', false)")
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute("UPDATE business.ledger_accounts SET balance = -1 WHERE code = 'purse:m1'")
        assert await balances(conn) == {f"drawer:{STATION}:{SHIFT}": 500, f"sales:{STATION}": 500, "purse:m1": 0}


async def test_the_api_shows_accounts_statements_and_the_trial_balance(database_url: str,
                                                                       broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for n in range(1, 6):
            await deliver(consumer, conn, captured(n, Method.CASH, 100 * n))
    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        headers = admin_headers()
        first = http.get("/api/v1/ledger/accounts", params={"station": STATION, "limit": 1}, headers=headers).json()
        second = http.get("/api/v1/ledger/accounts", params={"station": STATION, "cursor": first["next_cursor"]},
                          headers=headers).json()
        assert [a["code"] for a in first["items"] + second["items"]] == [f"drawer:{STATION}:{SHIFT}",
                                                                        f"sales:{STATION}"]
        assert second["next_cursor"] is None
        page = http.get(f"/api/v1/ledger/accounts/sales:{STATION}", params={"limit": 3}, headers=headers).json()
        assert page["account"]["balance"] == 1500
        rest = http.get(f"/api/v1/ledger/accounts/sales:{STATION}", params={"cursor": page["next_cursor"]},
                        headers=headers).json()
        assert [p["amount"] for p in page["items"] + rest["items"]] == [-500, -400, -300, -200, -100]
        trial = http.get("/api/v1/ledger/trial-balance", headers=headers).json()
        assert {(line["kind"], line["balance"]) for line in trial} == {("asset", 1500), ("revenue", 1500)}
        assert all(line["unit_debits_less_credits"] == 0 for line in trial)
        assert http.get("/api/v1/ledger/accounts/no:such", headers=headers).status_code == 404
        assert http.get("/api/v1/ledger/accounts", params={"cursor": "bad!"}, headers=headers).status_code == 422
