"""Growth, levels, lifecycle and rule tags from the stations' events, through head office's real consumer and bus
on real PostgreSQL: a paid member order earns growth once (a redelivered event and a new event of the same order
change nothing), an upgrade happens at once and reaches the stations' member list, a refund takes growth back
without a downgrade, the yearly review downgrades, and the nightly jobs set the lifecycle and the rule tags."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.members import jobs
from business_services.members.model import RegisterMember, Source
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from telemetry.contracts.events.payments import Allocation, Method, PaymentRefunded
from telemetry.contracts.topics import event_topic

pytestmark = pytest.mark.integration

STATION = "st-01"
NOW = datetime.now(UTC).replace(microsecond=0)


def order(no: int, member_no: str | None, amount_fen: int, at: datetime) -> tuple[OrderCreated, OrderChanged]:
    order_no = f"{STATION}-20261205-O{no:05d}"
    created = OrderCreated(order_no=order_no, station=STATION, kind="fuelling", status="open", version=1, grade=92,
                           volume_l=amount_fen / 800, price_fen_per_l=800, amount_fen=amount_fen, created_at=at)
    paid = OrderChanged(order_no=order_no, station=STATION, version=2, action="payment", status="paid",
                        paid_fen=amount_fen, at=at, member_no=member_no)   # type: ignore[arg-type]
    return created, paid


async def deliver(consumer: EventConsumer, conn: psycopg.AsyncConnection, payload: Any,
                  event_id: str | None = None) -> None:
    event = payload.envelope(source="test", event_id=event_id or payload.event_id())
    await consumer.handle(conn, event_topic("g", STATION, payload.TYPE), event.to_bytes())


async def one(conn: psycopg.AsyncConnection, query: str, *params: Any) -> Any:
    cur = await conn.execute(query, params)   # type: ignore[arg-type]
    row = await cur.fetchone()
    return None if row is None else row[0] if len(row) == 1 else row


async def test_growth_levels_and_the_jobs(database_url: str, broker: BrokerAddress) -> None:
    bus = build_bus(policy(Role.HEAD_OFFICE).contexts)
    consumer = EventConsumer(database_url, broker, bus=bus)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with UnitOfWork(conn, Actor("li", "")) as uow:
            member = await bus.handle(RegisterMember("g", "13812345678", Source.BACK_OFFICE, name="王五"), uow)
        no = member["member_no"]

        created, paid = order(1, no, 620_000, NOW - timedelta(days=2))         # 6 200 yuan: gold at once
        await deliver(consumer, conn, created)
        await deliver(consumer, conn, paid)
        await deliver(consumer, conn, paid)                                    # redelivered: a repeat
        await deliver(consumer, conn, paid, event_id=str(uuid.uuid4()))       # another event of the same order
        assert await one(conn, "SELECT growth, level FROM business.members WHERE member_no = %s", no) == (6200, "gold")
        assert await one(conn, "SELECT member_no FROM business.station_orders WHERE order_no = %s",
                         created.order_no) == no
        assert await one(conn, "SELECT count(*) FROM business.member_level_changes WHERE member_no = %s", no) == 1
        listed = await one(conn, "SELECT item FROM business.member_list_changes WHERE key = %s "
                                  "ORDER BY seq DESC LIMIT 1", no)
        assert (listed["level"], listed["level_name"], listed["discount_pct"]) == ("gold", "金卡会员", 2)

        # an order without a member, and an open member order, earn nothing
        for payload in order(2, None, 100_000, NOW):
            await deliver(consumer, conn, payload)
        open_created, open_changed = order(3, no, 100_000, NOW)
        await deliver(consumer, conn, open_created)
        await deliver(consumer, conn, open_changed.model_copy(update={"status": "open"}))
        assert await one(conn, "SELECT growth FROM business.members WHERE member_no = %s", no) == 6200

        refund = PaymentRefunded(refund_no=f"{STATION}-20261205-R00001", payment_no=f"{STATION}-20261205-P00001",
                                 station=STATION, shift_no=f"{STATION}-20261205-S00001", method=Method.CASH,
                                 amount_fen=300_000, allocations=(Allocation(order_no=created.order_no,
                                                                             amount_fen=300_000),),
                                 reason="多收", refunded_by="cash", refunded_at=NOW, member_no=no)
        await deliver(consumer, conn, refund)
        await deliver(consumer, conn, refund, event_id=str(uuid.uuid4()))
        assert await one(conn, "SELECT growth, level FROM business.members WHERE member_no = %s", no) == (3200, "gold")

        # four more paid orders within 30 days: the rule tag 近30天加油≥4次; lifecycle new (registered today)
        for n in range(4, 8):
            for payload in order(n, no, 10_000, NOW - timedelta(days=n)):
                await deliver(consumer, conn, payload)
        async with conn.transaction():
            assert await jobs.apply_rule_tags(conn, NOW) == 1
            assert await jobs.apply_rule_tags(conn, NOW) == 0                  # again: nothing to change
            assert await jobs.refresh_lifecycles(conn, NOW) == 1              # new → active (5 orders)
        tags = await one(conn, "SELECT array_agg(t.name) FROM business.member_tag_links k JOIN business.member_tags t "
                               "ON t.id = k.tag_id WHERE k.member_no = %s", no)
        assert tags == ["近30天加油≥4次"]
        assert await one(conn, "SELECT lifecycle, frequency_90d FROM business.members WHERE member_no = %s",
                         no) == ("active", 5)
        later = NOW + timedelta(days=60)
        async with conn.transaction():
            assert await jobs.apply_rule_tags(conn, later) == 1                # the orders fell out of the window
            await jobs.refresh_lifecycles(conn, later)
        assert await one(conn, "SELECT lifecycle FROM business.members WHERE member_no = %s", no) == "dormant"

        # the yearly review: a year without orders goes back to the lowest level, and the stations hear of it
        async with conn.transaction():   # this year's review: 3 600 growth in 365 days earns silver, not gold
            assert await jobs.review_levels(conn, NOW) == 1
        assert await one(conn, "SELECT level FROM business.members WHERE member_no = %s", no) == "silver"
        async with conn.transaction():   # next year's first run reviews, later runs of that year do nothing
            assert await jobs.review_levels(conn, NOW + timedelta(days=400)) == 1
            assert await jobs.review_levels(conn, NOW + timedelta(days=401)) == 0
        assert await one(conn, "SELECT level FROM business.members WHERE member_no = %s", no) == "normal"
        listed = await one(conn, "SELECT item FROM business.member_list_changes WHERE key = %s "
                                  "ORDER BY seq DESC LIMIT 1", no)
        assert listed["level"] == "normal"
