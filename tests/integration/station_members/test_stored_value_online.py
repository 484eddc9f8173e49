"""Stored value online, through head office's real card-payments route: a payment debits the card once (the
balance comes back), a payment the card cannot cover is refused with head office's reason, a refund goes back
to the card it came from, and an attempt whose answer was lost is asked again with the same key (one debit)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.cards.commands import CreateCardType, IssueCards, Recharge
from business_services.cards.model import CardKind, CardType, Medium, Scope
from business_services.payments import service
from business_services.payments.handlers import RequestRefund
from business_services.payments.model import TakePayment, Tender
from business_services.payments.providers import ChargeRequest, ChargeState
from business_services.payments.registry import Providers
from business_services.payments.stored_value import StoredValueProvider
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.events.payments import Method
from tests.integration.sales.payments_support import MANAGER, STATION, add_orders, open_shift
from tests.integration.station_members.support import head_office

pytestmark = pytest.mark.integration
ADMIN = Actor("admin", "test")


async def issue_card(database_url: str, fen: int) -> str:
    bus, now = build_bus(policy(Role.HEAD_OFFICE).contexts), datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with UnitOfWork(conn, ADMIN) as uow:
            await bus.handle(CreateCardType(CardType("sv-chain", "连锁储值卡", Scope.CHAIN, None, True, Medium.PHYSICAL,
                                                     CardKind.STORED_VALUE, "6200", 16), "admin"), uow)
        async with UnitOfWork(conn, ADMIN) as uow:
            [card_no] = await bus.handle(IssueCards("sv-chain", STATION, 1, "admin", now), uow)
        async with UnitOfWork(conn, ADMIN) as uow:
            await bus.handle(Recharge(card_no, f"{STATION}-20261205-C00001", fen, Method.BANK_CARD, STATION, None,
                                      "admin", now), uow)
    return str(card_no)


async def card_ledger(database_url: str, card_no: str) -> tuple[int, list[str]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        (balance,) = await (await conn.execute("SELECT balance FROM business.ledger_accounts WHERE code = %s",
                                               (f"card:{card_no}",))).fetchone() or (None,)
        keys = await (await conn.execute(
            """SELECT idempotency_key FROM business.ledger_entries WHERE idempotency_key LIKE 'card.%%'
               ORDER BY idempotency_key""")).fetchall()
    return int(balance), [k for (k,) in keys]


async def test_online_payments_refunds_and_a_lost_answer(database_url: str, station_database_url: str) -> None:
    card_no = await issue_card(database_url, 100000)
    bus = build_bus(policy(Role.STATION).contexts)
    async with head_office(database_url) as office:
        link = office.link()
        provider = StoredValueProvider(link, station_database_url)
        providers = Providers([provider])
        await open_shift(station_database_url)
        first, second = await add_orders(station_database_url, 30000, 80000)
        async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
            [paid] = await service.take(conn, bus, providers, TakePayment(
                STATION, "pos-1", "cashier", (first,), (Tender(Method.STORED_VALUE, 30000, card_no=card_no),),
                datetime.now(UTC)), MANAGER)
            assert paid.state == "succeeded" and not link.down
            [refused] = await service.take(conn, bus, providers, TakePayment(
                STATION, "pos-1", "cashier", (second,), (Tender(Method.STORED_VALUE, 80000, card_no=card_no),),
                datetime.now(UTC)), MANAGER)
            assert refused.state == "failed" and "余额不足" in refused.message
            taken = await (await conn.execute(
                "SELECT state, offline, balance_fen FROM business.station_card_payments WHERE payment_no = %s",
                (paid.payment_no,))).fetchone()
            assert taken == ("taken", False, 70000)                   # head office's balance after the debit

            refund = await service.refund(conn, bus, providers, RequestRefund(
                STATION, paid.payment_no, 10000, "油品退回", "manager", datetime.now(UTC)), MANAGER)
            assert refund.state == "succeeded"
            events = await (await conn.execute(
                """SELECT payload->'type', payload->'data'->>'card_no', payload->'data'->>'offline'
                   FROM business.outbox WHERE topic LIKE '%%/payment.%%' ORDER BY seq""")).fetchall()
            assert events == [("payment.captured", card_no, "false"), ("payment.refunded", card_no, None)]

        lost = ChargeRequest("demo-01-20261205-P09999", STATION, Method.STORED_VALUE, 5000, "test", card_no=card_no)
        assert (await provider.charge(lost)).state is ChargeState.SUCCEEDED
        async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
            await conn.execute("UPDATE business.station_card_payments SET state = 'asked', balance_fen = NULL "
                               "WHERE payment_no = %s", (lost.payment_no,))   # as if the answer never came
        again = await provider.query(lost.payment_no)
        assert again.state is ChargeState.SUCCEEDED and again.card_no == card_no
        await link.close()
    balance, keys = await card_ledger(database_url, card_no)
    assert balance == 100000 - 30000 + 10000 - 5000
    assert keys.count(f"card.debited:{STATION}:{lost.payment_no}") == 1                  # asked twice, debited once
    assert keys.count(f"card.debited:{STATION}:{paid.payment_no}") == 1
    assert sum(k.startswith("card.credited:") for k in keys) == 1


async def test_a_refund_while_head_office_is_away_goes_back_to_the_card_when_it_returns(
        database_url: str, station_database_url: str) -> None:
    card_no = await issue_card(database_url, 100000)
    bus = build_bus(policy(Role.STATION).contexts)
    await open_shift(station_database_url)
    [order_no] = await add_orders(station_database_url, 30000)
    async with head_office(database_url) as office:
        port = int(office.url.rsplit(":", 1)[1])
        link = office.link()
        providers = Providers([StoredValueProvider(link, station_database_url)])
        async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
            [paid] = await service.take(conn, bus, providers, TakePayment(
                STATION, "pos-1", "cashier", (order_no,), (Tender(Method.STORED_VALUE, 30000, card_no=card_no),),
                datetime.now(UTC)), MANAGER)
        assert paid.state == "succeeded"
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:   # office gone
        refund = await service.refund(conn, bus, providers, RequestRefund(
            STATION, paid.payment_no, 10000, "油品退回", "manager", datetime.now(UTC)), MANAGER)
        assert refund.state == "pending" and link.down             # kept, not failed: the money is still owed
        assert (await card_ledger(database_url, card_no))[0] == 70000
        async with head_office(database_url, port):                # head office answers again on its address
            deadline = asyncio.get_running_loop().time() + 15
            while link.down:                                       # the link's probe notices
                assert asyncio.get_running_loop().time() < deadline, "the link never came back"
                await asyncio.sleep(0.05)
            looked = await service.look(conn, bus, providers, STATION, paid.payment_no, MANAGER)
            assert looked.refunded_fen == 10000
            [(state,)] = await (await conn.execute("SELECT state FROM business.payment_refunds WHERE refund_no = %s",
                                                   (refund.refund_no,))).fetchall()
            assert state == "succeeded"
    await link.close()
    balance, keys = await card_ledger(database_url, card_no)
    assert balance == 80000 and sum(k.startswith("card.credited:") for k in keys) == 1
