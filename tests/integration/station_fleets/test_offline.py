"""A station decides fleet authorisations alone while head office is unreachable: from the card on its member
list, spending at most min(available_fen, offline_limit_fen) a day, its reservations counted under the card's row
lock (two pumps cannot both spend one remainder), a refused ask sends nothing to the pump, a fuelling that never
started gives its reservation back, and the sale is paid with fleet_credit and reported as payment.captured
(offline, auth_no, card_no)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from business_services.bootstrap import build_bus
from business_services.payments import service as payments
from business_services.payments.fleet_credit import FleetCreditProvider
from business_services.payments.model import TakePayment, Tender
from business_services.payments.registry import Providers
from business_services.station_fleets import service
from business_services.station_fleets.model import FleetRuleError
from business_services.station_fleets.service import FleetRequest
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from tests.integration.ic_cards.ic_support import deliver, fuelling, rows
from tests.integration.sales.payments_support import MANAGER, STATION, add_orders, open_shift
from tests.integration.station_fleets.support import (
    CARD,
    NOZZLE,
    OTHER_NOZZLE,
    PLATE,
    Pump,
    fleet_card,
    forecourt,
    hold,
)

pytestmark = pytest.mark.integration


async def ask(url: str, pump: Pump, nozzle: str = NOZZLE, **fields: object) -> service.Authorisation:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await service.authorise(conn, None, pump, FleetRequest(STATION, nozzle, **fields))  # type: ignore[arg-type]


async def pay(url: str, auth: service.Authorisation, amount_fen: int, first: int) -> str:
    """The fuelling's order paid with fleet_credit against ``auth``; the payment's state."""
    [order_no] = await add_orders(url, amount_fen, first=first)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        [paid] = await payments.take(conn, build_bus(policy(Role.STATION).contexts),
                                     Providers([FleetCreditProvider(None, url)]), TakePayment(
            STATION, "pos-1", "cashier", (order_no,),
            (Tender(Method.FLEET_CREDIT, amount_fen, card_no=auth.card_no, auth_no=auth.auth_no),),
            datetime.now(UTC)), MANAGER)
    return str(paid.state)


async def test_cached_limits_are_enforced_offline_and_sales_reported_once(station_database_url: str) -> None:
    url = station_database_url
    await forecourt(url)
    await open_shift(url)
    await hold(url, fleet_card())
    pump = Pump()

    first = await ask(url, pump, card_no=CARD)
    assert (first.state, first.preset_fen, first.offline) == ("reserved", 15000, True)   # the offline limit binds
    assert first.auth_no.startswith(f"{STATION}-") and "-A" in first.auth_no
    assert pump.sent == [("disp-01", 1, 2, 15000)]
    assert await pay(url, first, 12000, first=1) == "succeeded"

    second = await ask(url, pump, plate=PLATE, wanted_fen=10000)          # by plate: the vehicle's card
    assert (second.state, second.card_no, second.preset_fen) == ("reserved", CARD, 3000)
    assert await pay(url, second, 3000, first=2) == "succeeded"

    third = await ask(url, pump, card_no=CARD)
    assert third.state == "refused" and third.code == "funds" and "已用完" in third.reason
    assert len(pump.sent) == 2                                              # a refusal sends nothing to the pump

    async with await psycopg.AsyncConnection.connect(url) as conn:
        events = await (await conn.execute(
            """SELECT payload->'data'->>'method', payload->'data'->>'card_no', payload->'data'->>'auth_no',
                      payload->'data'->>'offline', (payload->'data'->>'amount_fen')::int
               FROM business.outbox WHERE topic LIKE '%%/payment.captured' ORDER BY seq""")).fetchall()
    assert events == [("fleet_credit", CARD, first.auth_no, "true", 12000),
                      ("fleet_credit", CARD, second.auth_no, "true", 3000)]


async def test_two_pumps_cannot_both_spend_one_remainder(station_database_url: str) -> None:
    url = station_database_url
    await forecourt(url)
    await hold(url, fleet_card(offline_limit_fen=50000, daily_fen=10000))
    pump = Pump()
    answers = await asyncio.gather(*(ask(url, pump, nozzle, card_no=CARD) for nozzle in (NOZZLE, OTHER_NOZZLE)))
    assert sorted(a.state for a in answers) == ["refused", "reserved"]
    assert sum(a.preset_fen for a in answers) == 10000
    assert [p[3] for p in pump.sent] == [10000]


async def test_a_fuelling_that_never_started_gives_its_reservation_back(station_database_url: str) -> None:
    url = station_database_url
    await forecourt(url)
    await hold(url, fleet_card(offline_limit_fen=10000))
    pump = Pump()
    first = await ask(url, pump, card_no=CARD)
    assert (await ask(url, pump, card_no=CARD)).state == "refused"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await service.release(conn, None, first.auth_no)
        assert not await service.release(conn, None, first.auth_no)        # released once
    again = await ask(url, pump, card_no=CARD)
    assert (again.state, again.preset_fen) == ("reserved", 10000)


async def test_a_pump_that_refuses_the_preset_releases_it(station_database_url: str) -> None:
    url = station_database_url
    await forecourt(url)
    await hold(url, fleet_card(offline_limit_fen=10000))
    refused = await ask(url, Pump(refuse="device-unavailable"), card_no=CARD)
    assert refused.state == "released" and "加油机未接受授权" in refused.reason
    assert (await ask(url, Pump(), card_no=CARD)).preset_fen == 10000


async def test_pin_frozen_card_unknown_card_and_no_offline_limit(station_database_url: str) -> None:
    url = station_database_url
    await forecourt(url)
    pin_hash = PasswordHash((Argon2Hasher(),)).hash("246810")
    await hold(url, fleet_card(pin_hash=pin_hash))
    pump = Pump()
    assert (await ask(url, pump, card_no=CARD)).code == "pin"
    assert (await ask(url, pump, card_no=CARD, pin="111111")).reason.startswith("密码错误")
    assert (await ask(url, pump, card_no=CARD, pin="246810", wanted_fen=5000)).preset_fen == 5000
    await hold(url, fleet_card(status="frozen"), seq=2)
    assert (await ask(url, pump, card_no=CARD)).code == "card_status"
    await hold(url, fleet_card(offline_limit_fen=0), seq=3)
    assert (await ask(url, pump, card_no=CARD)).code == "offline"
    assert (await ask(url, pump, card_no="9100900001000026")).code == "unknown"
    assert len(pump.sent) == 1
    with pytest.raises(FleetRuleError) as unknown:
        await ask(url, pump, "disp-09/1/1", card_no=CARD)
    assert unknown.value.status == 404


async def test_a_nozzle_hung_back_without_fuel_releases_its_reservation(station_database_url: str,
                                                                        broker: BrokerAddress) -> None:
    url = station_database_url
    await forecourt(url)
    await hold(url, fleet_card(offline_limit_fen=10000))
    first = await ask(url, Pump(), card_no=CARD)
    for point, nozzle, state in ((2, 1, "reserved"), (1, 2, "released")):    # another nozzle's first: no change
        empty = fuelling(STATION, point, 7 + point, 0).model_copy(update={"nozzle": nozzle})
        await deliver(url, broker, empty, STATION)                           # through the station's consumer
        assert await rows(url, "SELECT state FROM business.station_fleet_authorisations WHERE auth_no = %s",
                          first.auth_no) == [(state,)]
    assert (await ask(url, Pump(), card_no=CARD)).preset_fen == 10000
