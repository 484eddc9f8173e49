"""Head office's consumer on IC events: the purse mirror debited once per captured IC payment however often it
arrives, a debit the mirror cannot cover kept as a shortfall without losing the sale's ledger entry, the grey
list filled by a station's report and settled by the capture of its lock."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from business_services.ledger import repository as ledger
from business_services.ledger.model import purse_load_entry, recharge_entry
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.ic_cards import IcGreyRecorded
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured
from tests.integration.ic_cards.ic_support import CARD, deliver, rows
from tests.integration.sales.payments_support import MANAGER

pytestmark = pytest.mark.integration
STATION = "st-01"
NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)


def captured(n: int, fen: int, counter: int, card: str = CARD) -> PaymentCaptured:
    return PaymentCaptured(payment_no=f"st-01-20261205-P{n:05d}", station=STATION, shift_no="st-01-20261205-S00001",
                           terminal="disp-01/1", cashier="ic-card-desk", method=Method.IC_CARD, amount_fen=fen,
                           allocations=(Allocation(order_no=f"st-01-20261205-O{n:05d}", amount_fen=fen),),
                           provider_ref=f"ic:{counter}:0a0b0c0d", captured_at=NOW, card_no=card)


async def balance(url: str, code: str) -> int:
    found = await rows(url, "SELECT balance FROM business.ledger_accounts WHERE code = %s", code)
    return int(found[0][0]) if found else 0


async def test_ic_captures_move_the_mirror_once_and_a_shortfall_never_loses_the_sale(
        database_url: str, broker: BrokerAddress) -> None:
    head = database_url
    async with await psycopg.AsyncConnection.connect(head, autocommit=True) as conn, UnitOfWork(conn, MANAGER) as uow:
        await ledger.post(uow.conn, recharge_entry("R1", CARD, 10000, 0, Method.CASH, STATION, "S1", NOW))
        await ledger.post(uow.conn, purse_load_entry("L1", CARD, 10000, NOW, STATION))

    grey = IcGreyRecorded(station=STATION, card_no=CARD, counter=2, pump="disp-01", fuelling_point=1, locked_at=NOW,
                          order_no="st-01-20261205-O00001", payment_no="st-01-20261205-P00001", amount_fen=6000)
    await deliver(head, broker, grey, STATION, Role.HEAD_OFFICE)
    assert await rows(head, "SELECT state, amount_fen FROM business.ic_grey_list") == [("open", 6000)]

    for _ in range(3):                                            # the same capture, delivered three times
        await deliver(head, broker, captured(1, 6000, 2), STATION, Role.HEAD_OFFICE)
    assert await balance(head, f"purse:{CARD}") == 4000
    assert await rows(head, "SELECT state, settled_by FROM business.ic_grey_list") == [("settled", STATION)]

    await deliver(head, broker, captured(2, 7000, 3), STATION, Role.HEAD_OFFICE)     # more than the mirror holds
    assert await balance(head, f"purse:{CARD}") == 4000
    assert await rows(head, "SELECT amount_fen FROM business.ic_purse_shortfalls") == [(7000,)]
    assert await balance(head, f"sales:{STATION}") == 13000                        # both sales posted
    assert await balance(head, f"clearing:ic_card:{STATION}") == 7000              # the uncovered one still owed
