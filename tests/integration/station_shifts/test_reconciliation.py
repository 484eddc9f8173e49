"""Head office keeps a copy of each station shift and what it received for it, and the pull finds any gap:
events delivered through the real head-office EventConsumer, reconciled by ``reconcile_all``."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from business_services.ledger import views as ledger
from business_services.station_shifts import views
from business_services.station_shifts.handlers import reconcile_all
from business_services.station_shifts.model import Verdict
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from tests.integration.station_shifts.support import STATION, Sent, Shift, deliver, head_office, new_id, rows

pytestmark = pytest.mark.integration

CLOSED_CHECK = Shift(1).opened_at + timedelta(hours=9)     # the pull runs after the close


def a_day() -> Shift:
    """Three payments and a refund."""
    shift = Shift(1)
    cash = shift.pay(Method.CASH, 29000)
    shift.pay(Method.WECHAT, 15000)
    shift.pay(Method.CASH, 10000)
    shift.refund(cash, 700)
    return shift


async def status_of(conn: psycopg.AsyncConnection, shift: Shift) -> tuple[str, list[dict[str, Any]]]:
    row = await views.shift(conn, STATION, shift.shift_no)
    assert row is not None
    return row["status"], row["gaps"]


async def audits(conn: psycopg.AsyncConnection) -> list[tuple[Any, ...]]:
    return await rows(conn, "SELECT target, before, after FROM business.audit_log WHERE action = 'shift.difference' "
                            "ORDER BY seq")


async def test_a_shift_with_payments_and_a_refund_is_matched(database_url: str, broker: BrokerAddress) -> None:
    consumer, shift = head_office(database_url, broker), a_day()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in shift.events():
            await deliver(consumer, conn, payload)
        row = await views.shift(conn, STATION, shift.shift_no)
        assert row is not None and row["status"] == Verdict.UNCHECKED        # recorded, not yet pulled
        assert (row["definition"], row["opened_by"], row["closed_by"], row["order_count"]) == (
            "早班", "张三", "李四", 3)
        assert await reconcile_all(conn, CLOSED_CHECK) == {Verdict.MATCHED: 1}
        assert await status_of(conn, shift) == (Verdict.MATCHED, [])
        assert await views.received(conn, STATION, shift.shift_no) == {
            "cash": {"payments": 2, "refunds": 1, "net_fen": 38300},
            "wechat": {"payments": 1, "refunds": 0, "net_fen": 15000}}
        assert await reconcile_all(conn, CLOSED_CHECK) == {}                # a matched shift is settled
        assert await audits(conn) == []


async def test_a_missing_payment_is_a_difference_until_it_arrives(database_url: str, broker: BrokerAddress) -> None:
    consumer, shift = head_office(database_url, broker), a_day()
    wechat = shift.payments[1]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in shift.events():
            if payload is not wechat:
                await deliver(consumer, conn, payload)
        assert await reconcile_all(conn, CLOSED_CHECK) == {Verdict.DIFFERENCE: 1}
        gap = {"method": "wechat", "reported_fen": 15000, "received_fen": 0, "difference_fen": -15000}
        assert await status_of(conn, shift) == (Verdict.DIFFERENCE, [gap])
        await reconcile_all(conn, CLOSED_CHECK + timedelta(hours=1))           # the same difference again
        assert [(target, after["gaps"]) for target, _, after in await audits(conn)] == [
            (f"{STATION}/{shift.shift_no}", [gap])]                             # audited once

        await deliver(consumer, conn, wechat)                                  # it arrives late
        assert await reconcile_all(conn, CLOSED_CHECK + timedelta(hours=2)) == {Verdict.MATCHED: 1}
        assert await status_of(conn, shift) == (Verdict.MATCHED, [])
        assert [h["status"] for h in await views.history(conn, STATION, shift.shift_no)] == ["difference", "matched"]
        assert len(await audits(conn)) == 1


async def test_documents_after_a_match_reopen_the_question(database_url: str, broker: BrokerAddress) -> None:
    consumer, shift = head_office(database_url, broker), a_day()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in shift.events():
            await deliver(consumer, conn, payload)
        await reconcile_all(conn, CLOSED_CHECK)
        late = shift.pay(Method.ALIPAY, 500)             # a payment counted in this shift, after its close
        await deliver(consumer, conn, late)
        await deliver(consumer, conn, late, event_id=new_id())               # and re-sent under another id
        assert (await status_of(conn, shift))[0] == Verdict.LATE_DOCUMENTS
        assert await reconcile_all(conn, CLOSED_CHECK) == {Verdict.DIFFERENCE: 1}
        assert await status_of(conn, shift) == (Verdict.DIFFERENCE, [
            {"method": "alipay", "reported_fen": 0, "received_fen": 500, "difference_fen": 500}])
        assert [h["status"] for h in await views.history(conn, STATION, shift.shift_no)] == [
            "matched", "late_documents", "difference"]
        (_, before, after), = await audits(conn)
        assert (before["status"], after["status"]) == ("late_documents", "difference")


async def test_a_shift_never_closed_is_flagged_after_the_threshold(database_url: str, broker: BrokerAddress) -> None:
    consumer, shift = head_office(database_url, broker), a_day()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in shift.events()[:-1]:
            await deliver(consumer, conn, payload)
        assert await reconcile_all(conn, shift.opened_at + timedelta(hours=26)) == {Verdict.AWAITING_CLOSE: 1}
        assert await reconcile_all(conn, shift.opened_at + timedelta(hours=27)) == {Verdict.MISSING_CLOSE: 1}
        assert await reconcile_all(conn, shift.opened_at + timedelta(hours=3),
                                   timedelta(hours=2)) == {Verdict.MISSING_CLOSE: 1}       # the setting
        await deliver(consumer, conn, shift.closed())
        assert await reconcile_all(conn, shift.opened_at + timedelta(hours=28)) == {Verdict.MATCHED: 1}
        assert [h["status"] for h in await views.history(conn, STATION, shift.shift_no)] == [
            "awaiting_close", "missing_close", "matched"]


async def snapshot(conn: psycopg.AsyncConnection) -> dict[str, Any]:
    """Everything head office holds about the station's shifts and money, less the times of receipt."""
    return {
        "shifts": await rows(conn, "SELECT station, shift_no, definition, opened_by, opened_at, closed_by, closed_at, "
                                   "order_count, sales_fen, volume_l, takings, cash_expected_fen, cash_counted_fen, "
                                   "over_short_fen, unpaid_orders, status, gaps FROM business.station_shifts "
                                   "ORDER BY shift_no"),
        "documents": await rows(conn, "SELECT station, kind, document_no, shift_no, method, net_fen, occurred_at "
                                      "FROM business.station_shift_documents ORDER BY kind, document_no"),
        "ledger": await rows(conn, "SELECT code, balance FROM business.ledger_balances ORDER BY code"),
        "dead letters": await rows(conn, "SELECT count(*) FROM business.event_dead_letters"),   # none refused
    }


def two_shifts() -> tuple[Shift, Shift]:
    first, second = a_day(), Shift(2, opened_at=Shift(1).opened_at + timedelta(hours=8))
    for fen, method in [(20000, Method.ALIPAY), (35000, Method.CASH), (8800, Method.UNIONPAY_QR)]:
        second.pay(method, fen)
    second.refund(second.payments[0], 2000)
    return first, second


@pytest.mark.parametrize("seed", [7, 2026])
async def test_duplicated_and_shuffled_deliveries_end_in_the_same_state(
        database_url: str, station_database_url: str, broker: BrokerAddress, seed: int) -> None:
    first, second = two_shifts()
    in_order: list[Sent] = [*first.events(), *second.events()]
    shuffled: list[tuple[Sent, str | None]] = [(p, None) for p in in_order] * 2 + [(p, new_id()) for p in in_order]
    random.Random(seed).shuffle(shuffled)
    assert shuffled[0][0] is not in_order[0] or shuffled[1][0] is not in_order[1]     # really out of order
    final = []
    for url, deliveries in [(database_url, [(p, None) for p in in_order]), (station_database_url, shuffled)]:
        consumer = head_office(url, broker)          # the second database stands in for a second head office
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for payload, event_id in deliveries:
                await deliver(consumer, conn, payload, event_id=event_id)
            assert await reconcile_all(conn, CLOSED_CHECK + timedelta(hours=8)) == {Verdict.MATCHED: 2}
            final.append(await snapshot(conn))
    assert final[0] == final[1]
    assert len(final[0]["documents"]) == 8 and len(final[0]["shifts"]) == 2
    assert final[1]["dead letters"] == [(0,)]


async def test_two_hundred_payments_across_two_shifts(database_url: str, broker: BrokerAddress) -> None:
    """The head-office half of the offline drill: everything arrives after the link returns, once."""
    rng = random.Random(15)
    shifts = (Shift(1), Shift(2, opened_at=Shift(1).opened_at + timedelta(hours=8)))
    methods = [Method.CASH, Method.WECHAT, Method.ALIPAY, Method.BANK_CARD, Method.UNIONPAY_QR]
    for n in range(200):
        shift = shifts[0] if n < 110 else shifts[1]
        payment = shift.pay(rng.choice(methods), rng.randrange(1000, 60000))
        if n % 25 == 0:
            shift.refund(payment, rng.randrange(100, payment.amount_fen))
    consumer = head_office(database_url, broker)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in [*shifts[0].events(), *shifts[1].events()]:
            await deliver(consumer, conn, payload)
        assert await reconcile_all(conn, shifts[1].opened_at + timedelta(hours=9)) == {Verdict.MATCHED: 2}
        accounts, _, _ = await ledger.accounts(conn, stations=None, station=STATION, kind=None, prefix=None,
                                               after=None, limit=100)
        balances = {a["code"]: a["balance"] for a in accounts}
        for shift in shifts:
            received = await views.received(conn, STATION, shift.shift_no)
            reported = {m.value: c - r for m, (c, r) in shift.takings().items()}
            assert {m: r["net_fen"] for m, r in received.items()} == reported
            assert sum(r["payments"] for r in received.values()) == len(shift.payments)
            assert balances[f"drawer:{STATION}:{shift.shift_no}"] == reported["cash"]
        for method in set(methods) - {Method.CASH}:
            assert balances[f"clearing:{method.value}:{STATION}"] == sum(
                c - r for s in shifts for m, (c, r) in s.takings().items() if m is method)
        total = sum(p.amount_fen for s in shifts for p in s.payments) - sum(r.amount_fen for s in shifts
                                                                            for r in s.refunds)
        assert balances[f"sales:{STATION}"] == total
        assert sum(r[0] for r in await rows(conn, "SELECT count(*) FROM business.station_shift_documents")) == 208


async def test_concurrent_pulls_record_a_difference_once(database_url: str, broker: BrokerAddress) -> None:
    consumer, shift = head_office(database_url, broker), a_day()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in shift.events():
            if payload is not shift.payments[0]:                    # the first payment never arrives
                await deliver(consumer, conn, payload)

    async def pull() -> dict[Verdict, int]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as own:
            return await reconcile_all(own, CLOSED_CHECK)

    results = await asyncio.gather(*(pull() for _ in range(8)))
    assert all(r == {Verdict.DIFFERENCE: 1} for r in results), results
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert len(await audits(conn)) == 1
        assert [h["status"] for h in await views.history(conn, STATION, shift.shift_no)] == ["difference"]
        assert (await status_of(conn, shift))[1] == [
            {"method": "cash", "reported_fen": 38300, "received_fen": 9300, "difference_fen": -29000}]
