"""Alarm events through the business consumer into messages at the messaging simulator, by real procrastinate
jobs: one SMS for a redelivered raise; an escalation after its delay to the SMS simulator (and none for an
acknowledged alarm); a failed send retried after its back-off; an invalid number given up at once; WeChat's
expired token refreshed on the way."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.notifications.jobs import escalated_event_id
from business_services.notifications.model import Step
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.alarms import ALARM_ACKNOWLEDGED, AlarmState
from tests.integration.notifications.support import (
    OPENID,
    OTHER_PHONE,
    PHONE,
    contact,
    drain,
    job_app,
    messaging_sim,
    route,
    rows,
    save,
    transition,
    worker,
)

pytestmark = pytest.mark.integration


def consumer(database_url: str, broker: BrokerAddress) -> EventConsumer:
    return EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))


async def deliver(database_url: str, broker: BrokerAddress, *events: tuple[str, bytes]) -> None:
    """Hand events to head office's business consumer as MQTT would (each a QoS 1 delivery)."""
    head_office = consumer(database_url, broker)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for topic, raw in events:
            await head_office.handle(conn, topic, raw)


async def wait_for(check: object, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_a_redelivered_raise_sends_one_sms(database_url: str, broker: BrokerAddress,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    (li,) = await save(database_url, contact("李站长"))
    await save(database_url, route(Step(0, "sms", contacts=(li,))))
    alarm_id = uuid.uuid4()
    raised = transition(alarm_id=alarm_id)
    async with messaging_sim() as messaging:
        await deliver(database_url, broker, raised, raised)          # the broker delivers it twice
        bus = build_bus(policy(Role.HEAD_OFFICE).contexts)           # and a handler sees it again (no id check)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn, \
                UnitOfWork(conn, Actor("edge:demo-01", "mqtt")) as uow:
            assert await bus.handle(CloudEvent.from_bytes(raised[1]), uow) == 0   # nothing scheduled again
        app = job_app(database_url, messaging.channels())
        async with app.open_async():
            await drain(app)
            await drain(app)                                         # a second worker pass finds nothing to do
        sms = (await messaging.received("sms"))["received"]
        assert [(m["PhoneNumbers"], m["TemplateParam"]["alarm"]) for m in sms] == \
            [(PHONE, "可燃气体二级报警，立即疏散并切断电源")]
    assert await rows(database_url, "SELECT step, channel, recipient, status, attempts "
                                    "FROM business.notification_deliveries") == [(0, "sms", f"contact:{li}", "sent", 1)]
    assert await rows(database_url, "SELECT step, status FROM business.notification_steps") == [(0, "done")]
    assert "138****5678" in caplog.text and PHONE not in caplog.text     # logged, masked


async def test_an_unacknowledged_alarm_is_escalated_after_its_delay_and_an_acknowledged_one_is_not(
        database_url: str, broker: BrokerAddress) -> None:
    li, _zhao = await save(database_url, contact("李站长"), contact("赵经理", OTHER_PHONE, None, "duty"))
    (route_id,) = await save(database_url, route(Step(0, "sms", contacts=(li,)), Step(0.05, "sms", groups=("duty",)),
                                                 rule="gas.*"))
    ignored, seen = uuid.uuid4(), uuid.uuid4()
    async with messaging_sim() as messaging:
        app = job_app(database_url, messaging.channels())
        async with app.open_async(), worker(app):
            started = time.monotonic()
            await deliver(database_url, broker, transition(alarm_id=ignored), transition(alarm_id=seen))
            await deliver(database_url, broker, transition(
                ALARM_ACKNOWLEDGED, alarm_id=seen, seq=2, state_from=AlarmState.UNACKNOWLEDGED,
                state_to=AlarmState.ACKNOWLEDGED, by="li.si"))

            async def to(phone: str) -> list[dict[str, object]]:
                return [m for m in (await messaging.received("sms"))["received"] if m["PhoneNumbers"] == phone]

            await wait_for(lambda: _count(to(PHONE), 2))             # both raised: the first step, at once
            assert await to(OTHER_PHONE) == []
            await wait_for(lambda: _count(to(OTHER_PHONE), 1))       # 3 s later: the unacknowledged one escalates
            assert time.monotonic() - started >= 3.0
            await asyncio.sleep(1.0)
            assert len(await to(OTHER_PHONE)) == 1                   # and only that one
    steps = await rows(database_url, "SELECT alarm_id, step, status FROM business.notification_steps "
                                     "ORDER BY alarm_id = %s, step", seen)
    assert steps == [(ignored, 0, "done"), (ignored, 1, "done"), (seen, 0, "done"), (seen, 1, "cancelled")]
    escalated = await rows(database_url, "SELECT event_id, topic, payload FROM business.outbox "
                                         "WHERE topic LIKE '%%/alarm.escalated'")
    assert [(e, t) for e, t, _ in escalated] == [(escalated_event_id(ignored, route_id, 1),
                                                  "forecourt/v1/demo-co/demo-01/events/alarm.escalated")]
    data = escalated[0][2]["data"]
    assert (data["alarm_id"], data["state_to"], data["by"]) == (str(ignored), "unacknowledged", "notifications")
    timing = await rows(database_url, "SELECT d.created_at - a.raised_at FROM business.notification_deliveries d "
                                      "JOIN business.notification_alarms a USING (alarm_id) WHERE d.step = 1")
    assert [t[0].total_seconds() >= 3.0 for t in timing] == [True]


async def _count(found: object, n: int) -> bool:
    return len(await found) >= n  # type: ignore[misc, arg-type]


async def test_a_failed_send_is_retried_after_its_back_off_and_an_invalid_number_is_not(
        database_url: str, broker: BrokerAddress) -> None:
    li = (await save(database_url, contact("李站长")))[0]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:   # an old, bad number
        await conn.execute("ALTER TABLE business.notification_contacts DROP CONSTRAINT "
                           "notification_contacts_phone_check")
        await conn.execute("INSERT INTO business.notification_contacts (name, phone) VALUES ('旧号码', '10000')")
        bad = (await (await conn.execute("SELECT max(id) FROM business.notification_contacts")).fetchone() or [0])[0]
    await save(database_url, route(Step(0, "sms", contacts=(li, bad))))
    async with messaging_sim() as messaging:
        await messaging.fault(sms_rate_limit_next=1)     # the first SendSms meets Aliyun's flow control
        app = job_app(database_url, messaging.channels())
        async with app.open_async(), worker(app):
            started = time.monotonic()
            await deliver(database_url, broker, transition(alarm_id=uuid.uuid4()))

            async def sent() -> bool:
                return bool((await messaging.received("sms"))["received"])

            await wait_for(sent)
            assert time.monotonic() - started >= 5.0      # FIRST_RETRY_S after the refusal
        refused = [r["code"] for r in (await messaging.received("sms"))["refused"]]
        assert sorted(refused) == ["isv.BUSINESS_LIMIT_CONTROL", "isv.MOBILE_NUMBER_ILLEGAL"]
    got = await rows(database_url, "SELECT recipient, status, attempts, last_error "
                                   "FROM business.notification_deliveries ORDER BY recipient")
    assert [(r, s, a) for r, s, a, _ in got] == [(f"contact:{li}", "sent", 2), (f"contact:{bad}", "failed", 1)]
    assert got[1][3].startswith("isv.MOBILE_NUMBER_ILLEGAL")


async def test_wechat_messages_go_on_after_the_token_expires(database_url: str, broker: BrokerAddress) -> None:
    (wang,) = await save(database_url, contact("王值班", None, OPENID))
    await save(database_url, route(Step(0, "wechat", contacts=(wang,))))
    async with messaging_sim() as messaging:
        app = job_app(database_url, messaging.channels())
        async with app.open_async():
            await deliver(database_url, broker, transition(alarm_id=uuid.uuid4()))
            await drain(app)
            await messaging.fault(wechat_expire_tokens=True)
            await deliver(database_url, broker, transition(alarm_id=uuid.uuid4()))
            await drain(app)
        seen = await messaging.received("wechat")
    assert [m["touser"] for m in seen["received"]] == [OPENID, OPENID]
    assert seen["token_requests"] == 2
    assert [r["errcode"] for r in seen["refused"]] == [42001]
    assert await rows(database_url, "SELECT status, attempts FROM business.notification_deliveries") == \
        [("sent", 1), ("sent", 1)]
