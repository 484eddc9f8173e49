"""Loads (圈存) through head office's API and a reader on real TCP: written once, a lost answer confirmed from
the chip's log at the next insertion, a write that never happened retried (or reversed back to the reserve),
refused above the reserve and with a forged TAC; a retried request changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from business_services.ic_cards import loads
from business_services.ic_cards.model import IcCardError
from business_services.ic_cards.station_link import HeadOfficeIc
from business_services.ledger import repository as ledger
from business_services.ledger.model import recharge_entry
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.card_reader import Ins
from telemetry.contracts.events.payments import Method
from tests.integration.ic_cards.ic_support import CARD, PSAM, card_readers, desk, rows, station_key
from tests.integration.sales.payments_support import MANAGER, STATION
from tests.support.api_client import served_api

pytestmark = pytest.mark.integration


async def balances(url: str) -> tuple[int, int]:
    found = dict(await rows(url, "SELECT code, balance FROM business.ledger_accounts WHERE code LIKE %s",
                            f"%:{CARD}"))
    return int(found.get(f"card:{CARD}", 0)), int(found.get(f"purse:{CARD}", 0))


async def test_loads_are_written_once_and_a_failed_write_is_retried_or_reversed(
        station_database_url: str, database_url: str) -> None:
    head, at_station = database_url, station_database_url
    async with await psycopg.AsyncConnection.connect(head, autocommit=True) as conn, UnitOfWork(conn, MANAGER) as uow:
        await ledger.post(uow.conn, recharge_entry("demo-01-R1", CARD, 100000, 0, Method.CASH, STATION, "S1",
                                                   datetime.now(UTC)))
    async with served_api(head) as (app, http):
        app.state.ic_psam = PSAM
        key = await station_key(head, STATION)
        authority = HeadOfficeIc(HeadOfficeLink(str(http.base_url), key), PSAM)
        async with card_readers(["pos-1"]) as (sim, link):
            chip = sim.issue(CARD, 0)
            station = desk(at_station, STATION, sim, link)
            station.loads = authority
            slot = station.readers["pos-1"].slot
            sim.insert("pos-1", CARD)
            async with await psycopg.AsyncConnection.connect(at_station, autocommit=True) as conn:
                done = await loads.load(conn, slot, authority, STATION, "demo-01-L0001", 20000)
                assert (done.state, chip.balance_fen, await balances(head)) == ("written", 20000, (80000, 20000))

                # the chip writes, the answer is lost: confirmed at the next insertion from the chip's log
                sim.readers[1].pull_during_next, sim.readers[1].pull_on = "after", Ins.CREDIT_FOR_LOAD
                lost = await loads.load(conn, slot, authority, STATION, "demo-01-L0002", 10000)
                assert lost.state == "writing" and chip.balance_fen == 30000
                sim.insert("pos-1", CARD)
                await station.poll()
                assert [r for (r,) in await rows(head, "SELECT state FROM business.ic_loads ORDER BY load_no")] == [
                    "written", "written"]

                # the card leaves before the chip runs the write: the next insertion writes it (retried)
                sim.readers[1].pull_during_next, sim.readers[1].pull_on = "before", Ins.CREDIT_FOR_LOAD
                unwritten = await loads.load(conn, slot, authority, STATION, "demo-01-L0003", 5000)
                assert unwritten.state == "writing" and chip.balance_fen == 30000
                sim.insert("pos-1", CARD)
                await station.poll()
                assert chip.balance_fen == 35000 and [r.kind for r in chip.log[:3]] == ["L", "L", "L"]
                assert await balances(head) == (65000, 35000)

                # never written and abandoned: reversed to the reserve account, once
                sim.readers[1].pull_during_next, sim.readers[1].pull_on = "before", Ins.CREDIT_FOR_LOAD
                gone = await loads.load(conn, slot, authority, STATION, "demo-01-L0004", 7000)
                assert gone.state == "writing" and await balances(head) == (58000, 42000)
                await loads.abandon(conn, authority, "demo-01-L0004")
                await loads.abandon(conn, authority, "demo-01-L0004")
                assert await balances(head) == (65000, 35000) and chip.balance_fen == 35000

                # more than the reserve holds: refused, nothing moves
                sim.insert("pos-1", CARD)
                with pytest.raises(IcCardError, match="备用金余额不足"):
                    await loads.load(conn, slot, authority, STATION, "demo-01-L0005", 70000)
                assert await balances(head) == (65000, 35000)

        headers = {"X-API-Key": key}
        first = {"load_no": "demo-01-L0006", "station": STATION, "counter": 9, "amount_fen": 100}
        again = str(uuid.uuid4())
        answers = [await http.post(f"/api/v1/ic-cards/{CARD}/loads", json=first,
                                   headers={**headers, "Idempotency-Key": again}) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200] and answers[0].json() == answers[1].json()
        assert await balances(head) == (64900, 35100)                 # a retried request moved it once
        forged = await http.post("/api/v1/ic-cards/loads/demo-01-L0006/confirm", json={"tac": "00000000"},
                                 headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
        assert forged.status_code == 422 and "TAC" in forged.json()["detail"]
        other = await http.post(f"/api/v1/ic-cards/{CARD}/loads", json={**first, "station": "demo-02"},
                                headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
        assert other.status_code == 403                                # another station's load
        audit = await rows(head, "SELECT count(*) FROM business.audit_log WHERE action LIKE 'ic_card.load.%%'")
        assert audit[0][0] >= 6
