"""Issue 18, "Done when" 4: with head office unreachable, stored-value payments up to the card's offline limits
are taken and above them refused with a clear message; when the link returns, head office records each offline
payment once — also when the delivery is duplicated and reordered.

The station server runs on its own database with its role's bus and holds its member list (one card with
¥200 a payment and ¥300 a day offline, one frozen card, one card with ¥100 a day for the race of two
terminals). Head office is a port nobody listens on (the link goes down on the first try, as it does when the
line is cut). The payments go through the payments service with the real ``StoredValueProvider``; the
station's outbox is then drained (a fake sink records what reached the broker, as in the sales drill) and head
office's consumer gets each message, a fifth of them twice, shuffled.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.cards.commands import CreateCardType, IssueCards, Recharge
from business_services.cards.model import CardKind, CardType, Medium, Scope
from business_services.consumer import EventConsumer
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments import service
from business_services.payments.model import TakePayment, Tender
from business_services.payments.registry import Providers
from business_services.payments.stored_value import StoredValueProvider
from business_services.station_members.sync import MemberListSync
from business_services.unit_of_work import UnitOfWork
from forecourt.local import free_port
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method, PaymentCaptured
from tests.integration.sales.payments_support import STATION, add_orders, link_returns, open_shift
from tests.integration.station_members.support import CARD, MEMBER, card, head_office, hold, member

pytestmark = pytest.mark.integration

CASHIER = Actor("cashier", "pos-1")
FROZEN, SMALL, ONLY_95 = "6222000033334444", "6222000055556666", "6222000077778888"


async def pay(station_url: str, providers: Providers, order_no: str, fen: int, card_no: str,
              terminal: str = "pos-1") -> tuple[str, str, str]:
    """(payment_no, state, message) of one stored-value payment of one order."""
    bus = build_bus(policy(Role.STATION).contexts)
    command = TakePayment(STATION, terminal, "cashier", (order_no,),
                          (Tender(Method.STORED_VALUE, fen, card_no=card_no),), datetime.now(UTC))
    async with await psycopg.AsyncConnection.connect(station_url, autocommit=True) as conn:
        [row] = await service.take(conn, bus, providers, command, CASHIER)
    return row.payment_no, row.state, row.message


async def test_offline_stored_value_within_limits_then_settled_once(database_url: str, station_database_url: str,
                                                                   broker: BrokerAddress) -> None:
    await hold(station_database_url, member(), card(), card(card_no=FROZEN, status="frozen"),
               card(card_no=SMALL, offline_limit_fen=10000, offline_daily_fen=10000),
               card(card_no=ONLY_95, grades=(95,)))
    link = HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)
    providers = Providers([StoredValueProvider(link, station_database_url)])
    await open_shift(station_database_url)
    orders = await add_orders(station_database_url, 15000, 25000, 12000, 8000, 5000, 6000, 6000, 4000)

    taken, state, _ = await pay(station_database_url, providers, orders[0], 15000, CARD)
    assert state == "succeeded" and link.down                   # head office did not answer: taken offline
    _, state, why = await pay(station_database_url, providers, orders[1], 25000, CARD)
    assert state == "failed" and why.startswith("总部连接中断，储值卡离线限额 ¥200.00")
    second, state, _ = await pay(station_database_url, providers, orders[2], 12000, CARD)
    assert state == "succeeded"                                 # 150 + 120 ≤ 300 a day
    _, state, why = await pay(station_database_url, providers, orders[3], 8000, CARD)
    assert state == "failed" and "今日本站已离线消费 ¥270.00" in why and "请改用其他方式" in why
    _, state, why = await pay(station_database_url, providers, orders[4], 5000, FROZEN)
    assert state == "failed" and "冻结" in why
    _, state, why = await pay(station_database_url, providers, orders[7], 4000, ONLY_95)
    assert state == "failed" and "限制油品" in why            # the orders are 92#: the card's restriction holds offline
    both = await asyncio.gather(pay(station_database_url, providers, orders[5], 6000, SMALL, "pos-1"),
                                pay(station_database_url, providers, orders[6], 6000, SMALL, "pos-2"))
    assert sorted(state for _, state, _ in both) == ["failed", "succeeded"]   # ¥100 a day: one of two ¥60
    raced = next(n for n, state, _ in both if state == "succeeded")
    offline_payments = {taken: (15000, CARD), second: (12000, CARD), raced: (6000, SMALL)}

    sent = await link_returns(station_database_url)
    await link.close()
    captured = [body for topic, body in sent if topic.endswith("/payment.captured")]
    assert len(captured) == 3                                   # only what was taken goes up, each once
    events = [PaymentCaptured.model_validate(json.loads(body)["data"]) for body in captured]
    assert {e.payment_no: (e.amount_fen, e.card_no, e.member_no, e.offline, e.method) for e in events} == \
        {no: (fen, c, MEMBER, True, Method.STORED_VALUE) for no, (fen, c) in offline_payments.items()}
    office = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    rng = random.Random(18)
    delivered = sent + rng.sample(sent, len(sent) // 5)
    rng.shuffle(delivered)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as office_db:
        for topic, body in delivered:
            await office.handle(office_db, topic, body)
        dead = await (await office_db.execute("SELECT count(*) FROM business.event_dead_letters")).fetchone()
        assert dead == (0,)
        entries = await (await office_db.execute(
            """SELECT reference, sum(p.amount) FILTER (WHERE p.amount > 0), count(DISTINCT e.id)
               FROM business.ledger_entries e JOIN business.ledger_postings p ON p.entry_id = e.id
               WHERE e.kind = 'payment.captured' GROUP BY reference""")).fetchall()
        assert {ref: (int(fen), int(n)) for ref, fen, n in entries} == \
            {no: (fen, 1) for no, (fen, _) in offline_payments.items()}             # each once, none lost
    async with await psycopg.AsyncConnection.connect(station_database_url) as station:
        rows = await (await station.execute(
            "SELECT payment_no, card_no, member_no, offline, amount_fen FROM business.station_card_payments "
            "WHERE state = 'taken' ORDER BY payment_no")).fetchall()
    assert {r[0]: (r[4], r[1]) for r in rows} == offline_payments
    assert all(r[3] and r[2] == MEMBER for r in rows)



async def test_head_office_settles_each_offline_card_payment_once_when_the_link_returns(
        database_url: str, station_database_url: str, broker: BrokerAddress) -> None:
    """The list comes from head office's own feed (cards issued and recharged there, ¥200/¥300 offline limits from
    the card type); the link then drops; the station takes what the limits and the listed balance allow; when
    the link returns head office debits each card once (``card.debited:{station}:{payment_no}``)."""
    office_bus = build_bus(policy(Role.HEAD_OFFICE).contexts)
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with UnitOfWork(conn, Actor("admin", "test")) as uow:
            await office_bus.handle(CreateCardType(CardType(
                "sv-chain", "连锁储值卡", Scope.CHAIN, None, True, Medium.PHYSICAL, CardKind.STORED_VALUE, "6200", 16,
                offline_limit_fen=20000, offline_daily_fen=30000), "admin"), uow)
        async with UnitOfWork(conn, Actor("admin", "test")) as uow:
            small, large = await office_bus.handle(IssueCards("sv-chain", STATION, 2, "admin", now), uow)
        for n, (card_no, fen) in enumerate(((small, 25000), (large, 100000)), start=1):
            async with UnitOfWork(conn, Actor("admin", "test")) as uow:
                await office_bus.handle(Recharge(card_no, f"{STATION}-20261205-C{n:05d}", fen, Method.BANK_CARD,
                                                 STATION, None, "admin", now), uow)
    async with head_office(database_url) as office:            # the station pulls its list while the link is up
        link = office.link()
        sync = MemberListSync(station_database_url, link, build_bus(policy(Role.STATION).contexts), _own)
        assert await sync.pull_all() >= 2
    providers = Providers([StoredValueProvider(link, station_database_url)])   # head office is now gone
    await open_shift(station_database_url)
    orders = await add_orders(station_database_url, 20000, 10000, 15000, first=101)
    first, state, _ = await pay(station_database_url, providers, orders[0], 20000, small)
    assert state == "succeeded" and link.down
    _, state, why = await pay(station_database_url, providers, orders[1], 10000, small)
    assert state == "failed" and "余额不足（约 ¥50.00）" in why          # the list's ¥250 less today's ¥200 here
    other, state, _ = await pay(station_database_url, providers, orders[2], 15000, large)
    assert state == "succeeded"

    sent = await link_returns(station_database_url)
    await link.close()
    office_consumer = EventConsumer(database_url, broker, bus=office_bus)
    rng = random.Random(4)
    delivered = sent + sent[:] + rng.sample(sent, len(sent) // 3)          # every message at least twice
    rng.shuffle(delivered)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as office_db:
        for topic, body in delivered:
            await office_consumer.handle(office_db, topic, body)
        dead = await (await office_db.execute("SELECT count(*) FROM business.event_dead_letters")).fetchone()
        assert dead == (0,)
        debits = await (await office_db.execute(
            "SELECT idempotency_key FROM business.ledger_entries WHERE idempotency_key LIKE 'card.debited:%%' "
            "ORDER BY idempotency_key")).fetchall()
        assert [k for (k,) in debits] == sorted(f"card.debited:{STATION}:{no}" for no in (first, other))
        balances = dict(await (await office_db.execute(
            "SELECT code, balance FROM business.ledger_balances WHERE code = ANY(%s)",
            ([f"card:{small}", f"card:{large}"],))).fetchall())
    assert balances == {f"card:{small}": 25000 - 20000, f"card:{large}": 100000 - 15000}


async def _own(conn: psycopg.AsyncConnection) -> list[str]:
    return [STATION]
