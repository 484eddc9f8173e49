"""Prices at head office with a real database (business_services/prices, docs/prices.md): a change over the limit
waits for a second person, is scheduled and sent by the job at its time, once; the stations' price.applied reports
put a set in force or leave it partly applied, duplicates and reordered reports change nothing; a set the station
has not answered goes out again until it does (a station offline at the scheduled time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from business_services import jobs
from business_services.approvals import handlers as approvals
from business_services.approvals.model import Approver
from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.prices import views
from business_services.prices.demo import seed_demo_prices
from business_services.prices.handlers import CancelPriceChange, RequestPriceChange, SendDuePriceChanges
from business_services.prices.jobs import send_due_price_changes
from business_services.prices.repository import resend_unapplied_sets
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from forecourt.stations import import_file
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.prices import PriceApplied
from telemetry.contracts.topics import event_topic

pytestmark = pytest.mark.integration

DEMO = Path(__file__).parents[3] / "config" / "stations" / "demo.yaml"
WANG, LI = Actor("wang", "test"), Actor("li", "test")
LI_DECIDES = Approver("li", frozenset({"price:write", "approval:decide"}), None)
NOZZLES = [("disp-01", 1, 1, "92"), ("disp-01", 1, 2, "95"), ("disp-01", 2, 1, "92"), ("disp-01", 2, 2, "95")]
BUS = build_bus(policy(Role.HEAD_OFFICE).contexts)


@pytest.fixture
async def head_office(database_url: str) -> str:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co", region="华东")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await seed_demo_prices(conn, "demo-01", "demo-co")
    return database_url


def report(version: int, nozzle: tuple[str, int, int, str], state: str, at: datetime, attempt: int = 1,
           price: int = 789) -> tuple[str, bytes]:
    device, fp, n, grade = nozzle
    payload = PriceApplied(station="demo-01", version=version, device=device, fuelling_point=fp, nozzle=n,
                           grade=grade, price_fen=price, state=state, attempt=attempt, at=at,  # type: ignore[arg-type]
                           detail="泵未回读 (no read-back)" if state == "refused" else "")
    event = payload.envelope(source="edge/demo-01", subject="demo-01", event_id=payload.event_id())
    return event_topic("demo-co", "demo-01", PriceApplied.TYPE), event.to_bytes()


async def _run(conn: psycopg.AsyncConnection, actor: Actor, command: Any) -> Any:
    async with UnitOfWork(conn, actor) as uow:
        return await BUS.handle(command, uow)


async def _rows(conn: psycopg.AsyncConnection, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return list(await (await conn.execute(sql, args)).fetchall())


async def test_reports_put_a_set_in_force_duplicates_and_reordering_change_nothing(head_office: str,
                                                                                   broker: BrokerAddress) -> None:
    consumer = EventConsumer(head_office, broker, bus=BUS)
    t = datetime(2026, 12, 4, 8, tzinfo=UTC)
    async with await psycopg.AsyncConnection.connect(head_office, autocommit=True) as conn:
        late_pending = report(1, NOZZLES[0], "pending", t)
        for nozzle in NOZZLES[:3]:
            await consumer.handle(conn, *report(1, nozzle, "applied", t + timedelta(seconds=5)))
        await consumer.handle(conn, *late_pending)                       # reordered: older than the applied
        await consumer.handle(conn, *report(1, NOZZLES[0], "applied", t + timedelta(seconds=5)))   # a duplicate
        prices = await views.station_prices(conn, "demo-01")
        assert prices is not None and prices["version_in_force"] is None
        assert prices["latest"]["state"] == "applying"
        assert [n["state"] for n in prices["nozzles"]] == ["applied", "applied", "applied", "pending"]
        await consumer.handle(conn, *report(1, NOZZLES[3], "applied", t + timedelta(seconds=6), price=836))
        prices = await views.station_prices(conn, "demo-01")
        assert prices is not None and prices["version_in_force"] == 1 and prices["latest"]["state"] == "in_force"
        assert [(g["grade"], g["price_fen"]) for g in prices["grades"]] == [("92", 789), ("95", 836)]
        assert await _rows(conn, "SELECT count(*) FROM business.price_reports") == [(5,)]   # the duplicate once
        assert await _rows(conn, "SELECT in_force_at FROM business.price_sets WHERE version = 1") == [
            (t + timedelta(seconds=6),)]

        # version 2: one pump refuses; the rest of the station has the new price; a retry that works puts it in force
        answer = await _run(conn, WANG, RequestPriceChange("demo-co", ("demo-01",), {"92": 799}, reason="调价"))
        assert answer["state"] == "sent" and answer["stations"] == [{"station": "demo-01", "version": 2}]
        for nozzle in NOZZLES:
            state = "refused" if nozzle == NOZZLES[2] else "applied"
            await consumer.handle(conn, *report(2, nozzle, state, t + timedelta(minutes=1), price=799))
        prices = await views.station_prices(conn, "demo-01")
        assert prices is not None and prices["latest"]["state"] == "partly_applied"
        assert prices["version_in_force"] == 1                           # the old set is still the one in force
        refused = [n for n in prices["nozzles"] if n["state"] == "refused"]
        assert [(n["fuelling_point"], n["nozzle"], n["detail"]) for n in refused] == [(2, 1, "泵未回读 (no read-back)")]
        await consumer.handle(conn, *report(2, NOZZLES[2], "applied", t + timedelta(minutes=2), attempt=2, price=799))
        prices = await views.station_prices(conn, "demo-01")
        assert prices is not None and prices["version_in_force"] == 2 and prices["latest"]["state"] == "in_force"
        actions = await _rows(conn, "SELECT action, target FROM business.audit_log WHERE action LIKE 'prices.%%' "
                                    "ORDER BY seq")
        assert actions == [("prices.set.seed", "price-set:demo-01/1"), ("prices.set.in_force", "price-set:demo-01/1"),
                           ("prices.change.request", f"price-change:{answer['change_no']}"),
                           ("prices.change.send", f"price-change:{answer['change_no']}"),
                           ("prices.nozzle.refused", "demo-01/disp-01/fp2/n1"),
                           ("prices.set.in_force", "price-set:demo-01/2")]


async def test_over_the_limit_approved_scheduled_and_sent_by_the_job_at_its_time_once(head_office: str) -> None:
    async with await psycopg.AsyncConnection.connect(head_office, autocommit=True) as conn:
        soon = datetime.now(UTC) + timedelta(seconds=2)
        answer = await _run(conn, WANG, RequestPriceChange("demo-co", ("demo-01",), {"92": 889}, effective_at=soon,
                                                           reason="国际油价上涨"))
        assert answer["state"] == "awaiting_approval" and answer["approval_id"] is not None
        async with UnitOfWork(conn, LI) as uow:
            await approvals.approve(uow, answer["approval_id"], LI_DECIDES)
        change = await views.change_detail(conn, answer["change_no"])
        assert change is not None and (change["state"], change["approved_by"]) == ("scheduled", "li")
        assert await _rows(conn, "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = %s",
                           "send_due_price_changes") == [(soon,)]
        assert await _run(conn, Actor.system("jobs"), SendDuePriceChanges(now=soon - timedelta(seconds=1))) == 0
        await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.3)
    app = jobs.build_app(head_office)
    async with app.open_async():                                         # the worker takes the deferred job
        await app.run_worker_async(queues=[jobs.QUEUE], wait=False, install_signal_handlers=False)
    async with await psycopg.AsyncConnection.connect(head_office, autocommit=True) as conn:
        change = await views.change_detail(conn, answer["change_no"])
        assert change is not None and change["state"] == "sent"
        assert change["versions"] == [{"station": "demo-01", "version": 2}]
        assert await _run(conn, Actor.system("jobs"), SendDuePriceChanges()) == 0    # sending again: nothing
        async with conn.transaction():
            assert await send_due_price_changes(conn) == 0
        assert await _rows(conn, "SELECT event_id FROM business.outbox WHERE event_id LIKE 'price-set/%%' "
                                 "ORDER BY seq") == [("price-set/demo-01/1",), ("price-set/demo-01/2",)]
        assert await _rows(conn, "SELECT version, approved_by, effective_at FROM business.price_sets "
                                 "ORDER BY version") == [(1, None, await _seed_time(conn)), (2, "li", soon)]


async def _seed_time(conn: psycopg.AsyncConnection) -> datetime:
    return (await _rows(conn, "SELECT effective_at FROM business.price_sets WHERE version = 1"))[0][0]


async def test_a_lost_job_is_made_good_by_the_minute_sweep(head_office: str) -> None:
    async with await psycopg.AsyncConnection.connect(head_office, autocommit=True) as conn:
        later = datetime.now(UTC) + timedelta(hours=1)
        answer = await _run(conn, WANG, RequestPriceChange("demo-co", ("demo-01",), {"95": 846}, effective_at=later,
                                                           reason="调价"))
        assert answer["state"] == "scheduled"
        await conn.execute("DELETE FROM procrastinate_jobs")                 # the job is lost
        await conn.execute("UPDATE business.price_changes SET effective_at = now() - interval '1 second'")
        async with conn.transaction():
            assert await send_due_price_changes(conn) == 1                   # the sweep's run
        async with conn.transaction():
            assert await send_due_price_changes(conn) == 0
        assert await _rows(conn, "SELECT max(version) FROM business.price_sets") == [(2,)]


async def test_cancel_and_withdraw(head_office: str) -> None:
    async with await psycopg.AsyncConnection.connect(head_office, autocommit=True) as conn:
        later = datetime.now(UTC) + timedelta(hours=1)
        scheduled = await _run(conn, WANG, RequestPriceChange("demo-co", ("demo-01",), {"95": 846},
                                                              effective_at=later, reason="调价"))
        waiting = await _run(conn, WANG, RequestPriceChange("demo-co", ("demo-01",), {"92": 999}, reason="调价"))
        assert waiting["state"] == "awaiting_approval"
        assert (await _run(conn, LI, CancelPriceChange(scheduled["change_no"])))["state"] == "cancelled"
        assert (await _run(conn, LI, CancelPriceChange(scheduled["change_no"])))["state"] == "cancelled"   # a retry
        with pytest.raises(ValueError, match="申请人"):
            await _run(conn, LI, CancelPriceChange(waiting["change_no"]))    # not li's to withdraw
        assert (await _run(conn, WANG, CancelPriceChange(waiting["change_no"])))["state"] == "cancelled"
        assert await _rows(conn, "SELECT status FROM business.approval_requests") == [("cancelled",)]
        await conn.execute("UPDATE business.price_changes SET effective_at = now() - interval '1 second'")
        assert await _run(conn, Actor.system("jobs"), SendDuePriceChanges()) == 0   # a cancelled change never goes
        assert await _rows(conn, "SELECT max(version) FROM business.price_sets") == [(1,)]


async def test_a_set_goes_out_again_until_the_station_answers(head_office: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(head_office, broker, bus=BUS)
    async with await psycopg.AsyncConnection.connect(head_office, autocommit=True) as conn:
        unsent = "SELECT count(*) FROM business.outbox WHERE event_id = 'price-set/demo-01/1' AND published_at IS NULL"
        assert await resend_unapplied_sets(conn) == 0                        # not published yet
        await conn.execute("UPDATE business.outbox SET published_at = now() WHERE event_id LIKE 'price-set/%%'")
        assert await resend_unapplied_sets(conn) == 0                        # just sent: give the station time
        await conn.execute("UPDATE business.outbox SET published_at = now() - interval '2 minutes'")
        assert await resend_unapplied_sets(conn) == 1                        # offline: out again, the same id
        assert await _rows(conn, unsent) == [(1,)]
        await conn.execute("UPDATE business.outbox SET published_at = now() - interval '2 minutes'")
        await consumer.handle(conn, *report(1, NOZZLES[0], "pending", datetime.now(UTC)))
        assert await resend_unapplied_sets(conn) == 0                        # back: it is applying the set
        await conn.execute("UPDATE business.price_reports SET received_at = now() - interval '2 minutes'")
        assert await resend_unapplied_sets(conn) == 1                        # silent again, not in force
        await conn.execute("UPDATE business.outbox SET published_at = now() - interval '2 minutes'")
        for nozzle in NOZZLES:
            await consumer.handle(conn, *report(1, nozzle, "applied", datetime.now(UTC)))
        await conn.execute("UPDATE business.price_reports SET received_at = now() - interval '2 minutes'")
        assert await resend_unapplied_sets(conn) == 0                        # in force: never again


async def test_an_approval_that_expires_unanswered_rejects_the_change(head_office: str) -> None:
    async with await psycopg.AsyncConnection.connect(head_office, autocommit=True) as conn:
        waiting = await _run(conn, WANG, RequestPriceChange("demo-co", ("demo-01",), {"92": 999}, reason="调价"))
        assert await _run(conn, Actor.system("jobs"), SendDuePriceChanges()) == 0
        assert (await views.change_detail(conn, waiting["change_no"]) or {})["state"] == "awaiting_approval"
        later = datetime.now(UTC) + timedelta(hours=25)
        assert await _run(conn, Actor.system("jobs"), SendDuePriceChanges(now=later)) == 0
        assert (await views.change_detail(conn, waiting["change_no"]) or {})["state"] == "rejected"
        assert await _rows(conn, "SELECT count(*) FROM business.audit_log WHERE action = 'prices.change.expire'") == [
            (1,)]
