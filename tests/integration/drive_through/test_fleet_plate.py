"""车牌无感支付 by a fleet vehicle card on a station server's own PostgreSQL, events through its business consumer:
a plate no member pays by (here: its driver's member account has not opted in) but a listed vehicle card's that
allows it attaches the card; the fuelling's order is
authorised for what it owes and paid with 车队挂账, no PIN, once — decided by head office's real fleet routes while
it answers, from the station's list within the card's offline limits when it does not; over a limit, or a card that
does not allow it, the cashier takes the order with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from business_services.access.handlers import HASHER
from business_services.drive_through import fleet, repository
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.fleet_credit import FleetCreditProvider
from business_services.payments.registry import Providers
from forecourt.local import free_port
from telemetry.contracts.broker import BrokerAddress
from tests.integration.drive_through.test_agreement import pay
from tests.integration.drive_through.test_drive_through import seen
from tests.integration.ic_cards.ic_support import deliver, fuelling, rows
from tests.integration.sales.payments_support import STATION, open_shift
from tests.integration.station_fleets.support import PLATE, fleet_card, forecourt, hold
from tests.integration.station_members.support import head_office, member
from tests.integration.station_members.support import hold as members
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.integration
PIN = HASHER.hash("1357")            # the card has a PIN: paying by plate does not ask it


async def fuel(url: str, broker: BrokerAddress, transaction: int, fen: int, plate: str = PLATE) -> str:
    """The plate seen at fuelling position 2 (nozzle disp-01/2/1), then its fuelling; the order's number."""
    now = datetime.now(UTC) + timedelta(minutes=5 * transaction)
    await deliver(url, broker, seen(2, plate, now - timedelta(minutes=2)), STATION)
    await deliver(url, broker, fuelling(STATION, 2, transaction, fen, at=now), STATION)
    [(order_no,)] = await rows(url, "SELECT order_no FROM business.orders WHERE fuelling_point = 2 "
                                    "ORDER BY created_at DESC LIMIT 1")
    return str(order_no)


async def attachment(url: str, order_no: str) -> tuple[object, ...]:
    [found] = await rows(url, "SELECT member_no, method, state, reason FROM business.drive_through_attachments "
                              "WHERE order_no = %s", order_no)
    return found


def unreachable() -> HeadOfficeLink:
    return HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)


async def test_offline_the_card_pays_from_the_list_within_its_limits(station_database_url: str,
                                                                     broker: BrokerAddress) -> None:
    url = station_database_url
    await forecourt(url)
    await hold(url, fleet_card(drive_through=True, pin_hash=PIN, offline_limit_fen=15000, daily_fen=30000),
               fleet_card(card_no="9100900001000026", plate="京B54321", pin_hash=PIN), seq=1)
    await members(url, member(plates=(PLATE,)), first_seq=3)     # the driver's own account, not opted in
    await open_shift(url)
    link = unreachable()
    found = Providers([FleetCreditProvider(link, url)])

    first = await fuel(url, broker, 21, 9000)
    assert (await attachment(url, first))[:3] == (None, "fleet_credit", "due")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:   # a round that crashed after
        [due] = await repository.due(conn, STATION)                                  # authorising, before paying
        made = await fleet.authorised(conn, link, due, 9000)
    assert await pay(url, found) == 1                                        # pays against that one, asks no more
    assert await pay(url, found) == 0                                        # the loop again: nothing more
    [(payment_no, method, state)] = await rows(url, "SELECT payment_no, method, state FROM business.payments")
    assert (method, state) == ("fleet_credit", "succeeded")
    assert await rows(url, "SELECT auth_no, state, captured_fen, offline, payment_no "
                           "FROM business.station_fleet_authorisations") == [(made, "captured", 9000, True, payment_no)]
    assert await rows(url, "SELECT status, member_no FROM business.orders WHERE order_no = %s", first) == [
        ("paid", None)]

    over = await fuel(url, broker, 22, 9000)                                 # 60 元 of the offline 150 left
    assert await pay(url, found) == 0
    assert (await attachment(url, over))[2:] == ("cashier", fleet.SHORT)
    assert await rows(url, "SELECT state FROM business.station_fleet_authorisations ORDER BY auth_no") == [
        ("captured",), ("released",)]
    assert await rows(url, "SELECT status FROM business.orders WHERE order_no = %s", over) == [("payable",)]

    await fuel(url, broker, 23, 3000, plate="京B54321")                      # its card does not pay by plate
    assert await rows(url, "SELECT count(*) FROM business.drive_through_attachments") == [(2,)]
    await link.close()


async def test_online_head_office_authorises_and_captures_once_and_refuses_past_the_limit(
        database_url: str, station_database_url: str, broker: BrokerAddress) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        code = await make_enterprise(conn, credit_limit_fen=1_000_000)
        card_no = await make_card(conn, code, plate=PLATE, daily_fen=30000, offline_limit_fen=15000,
                                  drive_through=True, pin_hash=PIN)
    url = station_database_url
    await forecourt(url)
    await hold(url, fleet_card(card_no=card_no, enterprise=code, drive_through=True, pin_hash=PIN))
    await open_shift(url)
    async with head_office(database_url) as office:
        link = office.link()
        found = Providers([FleetCreditProvider(link, url)])
        paid = await fuel(url, broker, 31, 20000)
        assert await pay(url, found) == 1
        assert await pay(url, found) == 0
        [(payment_no,)] = await rows(url, "SELECT payment_no FROM business.payments WHERE state = 'succeeded'")
        assert await rows(url, "SELECT offline, captured_offline FROM business.station_fleet_authorisations") == [
            (False, False)]

        over = await fuel(url, broker, 32, 15000)                            # 100 元 of the day's 300 left
        assert await pay(url, found) == 0
        assert (await attachment(url, over))[2:] == ("cashier", fleet.SHORT)
        await link.close()
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT payment_no, amount_fen, offline FROM business.fleet_payments")
        assert await cur.fetchall() == [(payment_no, 20000, False)]
        cur = await conn.execute("SELECT state FROM business.fleet_authorisations ORDER BY asked_at")
        assert await cur.fetchall() == [("captured",), ("released",)]
    assert await rows(url, "SELECT status FROM business.orders WHERE order_no = %s", paid) == [("paid",)]
