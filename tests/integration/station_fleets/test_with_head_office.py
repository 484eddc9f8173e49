"""The station server and head office's real fleet routes on a port (the station's API key, its HeadOfficeLink):
an ask is decided at head office (300-yuan daily limit, 200 used today → a 100-yuan preset), two pumps asking at
once cannot both have the rest, a release gives it back at head office, a fuelling's order is captured there for the
actual amount once; with head office gone the station sells within the cached limits, and when the link returns
head office records each offline sale once (ledger and fleet_payments), however often and in whatever order the
messages come."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments import service as payments
from business_services.payments.fleet_credit import FleetCreditProvider
from business_services.payments.model import TakePayment, Tender
from business_services.payments.registry import Providers
from business_services.station_fleets import service
from business_services.station_fleets.service import FleetRequest
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from tests.integration.sales.payments_support import MANAGER, STATION, add_orders, link_returns, open_shift
from tests.integration.station_fleets.support import NOZZLE, OTHER_NOZZLE, Pump, fleet_card, forecourt, hold
from tests.integration.station_members.support import head_office
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.integration


async def fleet(database_url: str) -> tuple[str, str]:
    """An enterprise on credit (10 000 yuan) and its card with a 300-yuan daily limit; (enterprise, card_no)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        code = await make_enterprise(conn, credit_limit_fen=1_000_000)
        card_no = await make_card(conn, code, daily_fen=30000, offline_limit_fen=15000)
    return code, card_no


async def ask(url: str, link: HeadOfficeLink | None, pump: Pump, card_no: str, nozzle: str = NOZZLE,
              wanted_fen: int | None = None) -> service.Authorisation:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await service.authorise(conn, link, pump, FleetRequest(STATION, nozzle, card_no, wanted_fen=wanted_fen))


async def pay(url: str, link: HeadOfficeLink | None, auth: service.Authorisation, fen: int, first: int) -> str:
    [order_no] = await add_orders(url, fen, first=first)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        [paid] = await payments.take(conn, build_bus(policy(Role.STATION).contexts),
                                     Providers([FleetCreditProvider(link, url)]), TakePayment(
            STATION, "pos-1", "cashier", (order_no,),
            (Tender(Method.FLEET_CREDIT, fen, card_no=auth.card_no, auth_no=auth.auth_no),), datetime.now(UTC)),
            MANAGER)
    assert paid.state == "succeeded", paid.message
    return str(paid.payment_no)


async def office_rows(database_url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return list(await (await conn.execute(sql, args)).fetchall())  # type: ignore[arg-type]


async def test_head_office_decides_reserves_and_captures_once(database_url: str, station_database_url: str) -> None:
    code, card_no = await fleet(database_url)
    url, pump = station_database_url, Pump()
    await forecourt(url)
    await open_shift(url)
    async with head_office(database_url) as office:
        link = office.link()
        used = await ask(url, link, pump, card_no, wanted_fen=20000)          # 200 yuan earlier today
        assert (used.state, used.offline, used.preset_fen) == ("reserved", False, 20000)
        first = await pay(url, link, used, 20000, first=1)

        answers = await asyncio.gather(*(ask(url, link, pump, card_no, n) for n in (NOZZLE, OTHER_NOZZLE)))
        assert sorted((a.state, a.preset_fen) for a in answers) == [("refused", 0), ("reserved", 10000)]
        [kept] = [a for a in answers if a.state == "reserved"]
        [no] = [a for a in answers if a.state == "refused"]
        assert "今日额度已用完" in no.reason and not no.offline
        assert [p[3] for p in pump.sent] == [20000, 10000]                    # the refused ask reached no pump

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            assert await service.release(conn, link, kept.auth_no)          # the driver left before fuelling
        again = await ask(url, link, pump, card_no)
        assert again.preset_fen == 10000
        second = await pay(url, link, again, 8765, first=2)                   # the pump stopped short: 87.65 yuan
        await link.close()
    assert await office_rows(database_url, """SELECT payment_no, amount_fen, offline FROM business.fleet_payments
        ORDER BY payment_no""") == [(first, 20000, False), (second, 8765, False)]
    assert await office_rows(database_url, "SELECT state FROM business.fleet_authorisations WHERE auth_no = %s",
                             kept.auth_no) == [("released",)]
    assert await office_rows(database_url, """SELECT count(*), sum(amount) FROM business.ledger_postings p
        JOIN business.ledger_entries e ON e.id = p.entry_id
        WHERE e.idempotency_key LIKE 'fleet.paid:%%' AND p.account = %s""", f"receivable:fleet:{code}") == [
        (2, 28765)]


async def test_offline_sales_are_recorded_once_when_the_link_returns(
        database_url: str, station_database_url: str, broker: BrokerAddress) -> None:
    code, card_no = await fleet(database_url)
    url, pump = station_database_url, Pump()
    await forecourt(url)
    await open_shift(url)
    await hold(url, fleet_card(card_no=card_no, enterprise=code, daily_fen=30000, offline_limit_fen=15000))
    async with head_office(database_url) as office:
        link = office.link()
    # head office is gone: the link goes down on the first try and the station decides alone
    first = await ask(url, link, pump, card_no)
    assert (first.state, first.offline, first.preset_fen) == ("reserved", True, 15000) and link.down
    paid = [await pay(url, link, first, 9000, first=1)]
    second = await ask(url, link, pump, card_no, wanted_fen=10000)
    assert second.preset_fen == 6000                                          # the offline limit's rest
    paid.append(await pay(url, link, second, 6000, first=2))
    over = await ask(url, link, pump, card_no)
    assert over.state == "refused" and over.code == "funds"
    await link.close()

    sent = await link_returns(url)
    office_consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    rng = random.Random(19)
    delivered = sent + sent[:] + rng.sample(sent, len(sent) // 2)           # the link flaps: every message twice+
    rng.shuffle(delivered)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as office_db:
        for topic, body in delivered:
            await office_consumer.handle(office_db, topic, body)
    assert await office_rows(database_url, "SELECT count(*) FROM business.event_dead_letters") == [(0,)]
    assert await office_rows(database_url, """SELECT payment_no, auth_no, amount_fen, offline
        FROM business.fleet_payments ORDER BY payment_no""") == [
        (paid[0], first.auth_no, 9000, True), (paid[1], second.auth_no, 6000, True)]
    assert await office_rows(database_url, """SELECT idempotency_key FROM business.ledger_entries
        WHERE idempotency_key LIKE 'fleet.paid:%%' ORDER BY 1""") == [
        (f"fleet.paid:{STATION}:{no}",) for no in sorted(paid)]
