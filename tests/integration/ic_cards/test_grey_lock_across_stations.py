"""A card loaded (圈存) at station A, grey at A's pump, pulled, then inserted at station B: refused before the
rule's delay, settled from head office's grey list after it; head office mirrors the purse once, A's order is
paid without a second debit, and the reconciliation finds chip and mirror equal. Three databases (A, B, head
office), head office's API on a real port reached with each station's API key, readers on real TCP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from business_services.ic_cards import loads
from business_services.ic_cards.station_link import HeadOfficeIc
from business_services.ledger import repository as ledger
from business_services.ledger.model import recharge_entry
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.payments import Method
from tests.integration.ic_cards.ic_support import (
    CARD,
    PSAM,
    card_readers,
    deliver,
    desk,
    fuelling,
    outbox,
    rows,
    station_key,
)
from tests.integration.sales.payments_support import MANAGER, open_shift
from tests.support.api_client import served_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration
A, B = "demo-01", "demo-02"
UP = ("payment.captured", "ic_card.grey_recorded", "ic_card.grey_settled", "ic_card.purse_read")


async def forward(station_url: str, head_office_url: str, broker: BrokerAddress, station: str) -> None:
    """What a station's outbox holds for head office, through head office's consumer (each event once by id)."""
    from business_services.bootstrap import build_bus
    from business_services.consumer import EventConsumer
    from forecourt.roles import policy

    consumer = EventConsumer(head_office_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(head_office_url, autocommit=True) as conn:
        for (payload,) in await rows(station_url, "SELECT payload FROM business.outbox ORDER BY seq"):
            event = CloudEvent.model_validate(payload)
            if event.type in UP:
                await consumer.handle(conn, f"forecourt/v1/g/{station}/events/{event.type}", event.to_bytes())
    assert await rows(head_office_url, "SELECT error FROM business.event_dead_letters") == []


async def balance(url: str, code: str) -> int:
    found = await rows(url, "SELECT balance FROM business.ledger_accounts WHERE code = %s", code)
    return int(found[0][0]) if found else 0


def clock(offset: list[timedelta]) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + offset[0]


async def test_a_card_grey_at_one_station_is_settled_at_another_only_after_the_delay(
        station_database_url: str, other_station_database_url: str, database_url: str,
        broker: BrokerAddress) -> None:
    at_a, at_b, head = station_database_url, other_station_database_url, database_url
    await open_shift(at_a)
    async with await psycopg.AsyncConnection.connect(head, autocommit=True) as conn, UnitOfWork(conn, MANAGER) as uow:
        await ledger.post(uow.conn, recharge_entry("demo-01-R1", CARD, 80000, 0, Method.CASH, A, "S1",
                                                   datetime.now(UTC)))
    async with served_api(head) as (app, http):
        app.state.ic_psam = PSAM
        base = str(http.base_url)
        link_a = HeadOfficeIc(HeadOfficeLink(base, await station_key(head, A)), PSAM)
        link_b = HeadOfficeIc(HeadOfficeLink(base, await station_key(head, B)), PSAM)
        async with card_readers(["pos-1", "disp-01/1"]) as (sim_a, readers_a), \
                card_readers(["disp-01/1"]) as (sim_b, readers_b):
            later_a, later_b = [timedelta()], [timedelta()]
            station_a = desk(at_a, A, sim_a, readers_a, grey_list=link_a.grey_list, now=clock(later_a))
            station_b = desk(at_b, B, sim_b, readers_b, grey_list=link_b.grey_list, now=clock(later_b))
            chip = sim_a.issue(CARD, 0)
            sim_b.cards[CARD] = chip                       # one physical card, carried from A to B

            # 圈存 at A's POS: reserve → purse at head office, the chip written by A's reader
            sim_a.insert("pos-1", CARD)
            async with await psycopg.AsyncConnection.connect(at_a, autocommit=True) as conn:
                loaded = await loads.load(conn, station_a.readers["pos-1"].slot, link_a, A, "demo-01-L0001", 50000)
            assert (loaded.state, loaded.balance_fen, chip.balance_fen) == ("written", 50000, 50000)
            assert (await balance(head, f"card:{CARD}"), await balance(head, f"purse:{CARD}")) == (30000, 50000)

            # grey at A's pump 1, pulled before the debit
            sim_a.insert("disp-01/1", CARD)
            await station_a.poll()
            sim_a.pull("disp-01/1")
            await deliver(at_a, broker, fuelling(A, 1, 3, 30000), A)
            await station_a.poll()
            await forward(at_a, head, broker, A)
            assert await rows(head, "SELECT station, amount_fen, state FROM business.ic_grey_list") == [
                (A, 30000, "open")]

            # at B before the delay: refused, the chip untouched
            sim_b.insert("disp-01/1", CARD)
            later_b[0] = timedelta(minutes=9)
            message = await station_b.card_inserted("disp-01/1")
            assert "分钟后再插卡" in message and chip.balance_fen == 50000 and chip.grey.station == A
            assert await rows(at_b, "SELECT count(*) FROM business.ic_grey_locks") == [(0,)]

            # after the delay: settled from head office's grey list, then locked at B for B's own fuelling
            later_b[0] = timedelta(minutes=11)
            sim_b.pull("disp-01/1")
            sim_b.insert("disp-01/1", CARD)
            await station_b.poll()
            assert chip.balance_fen == 20000 and chip.grey is not None and chip.grey.station == B
            [settled] = await outbox(at_b, "ic_card.grey_settled")
            assert await rows(at_b, "SELECT station FROM business.audit_log WHERE action = 'ic_card.grey.settle_other'"
                              ) == [(B,)]
            assert (settled["origin_station"], settled["amount_fen"]) == (A, 30000)
            await forward(at_b, head, broker, B)
            assert await balance(head, f"purse:{CARD}") == 20000
            assert await rows(head, "SELECT state, settled_by FROM business.ic_grey_list") == [("settled", B)]

            # A learns it from head office: its order is paid, no second debit, the mirror moves once
            await station_a.poll()
            assert await rows(at_a, "SELECT state FROM business.payments WHERE method = 'ic_card'") == [("pending",)]
            later_a[0] = timedelta(minutes=11)
            await station_a.poll()
            assert await rows(at_a, "SELECT state FROM business.payments WHERE method = 'ic_card'") == [
                ("succeeded",)]
            assert await rows(at_a, "SELECT status FROM business.orders") == [("paid",)]
            await forward(at_a, head, broker, A)
            assert await balance(head, f"purse:{CARD}") == 20000 and chip.balance_fen == 20000
            assert await balance(head, f"clearing:ic_card:{A}") == 0     # A's capture − the purse debit

            # the reconciliation: the chip as B last read it against the mirror (B locked it: counter moved)
            answer = await http.get("/api/v1/ic-cards/reconciliation",
                                    headers=bearer(app, "card:read", stations=frozenset({A, B})))
            [row] = answer.json()["items"]
            assert (row["chip_fen"], row["mirror_fen"], row["difference_fen"]) == (20000, 20000, 0)
            assert row["card_no"] != CARD and row["card_no"].endswith(CARD[-4:])        # masked without pii:read
