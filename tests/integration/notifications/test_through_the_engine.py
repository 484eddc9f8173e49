"""The whole way: a station server's alarm engine raises an alarm (through the seam wet stock uses), its
alarm.raised travels up through the broker to head office's business consumer, the first SMS goes out at once
and, left unacknowledged, the escalation reaches the SMS simulator after its delay; alarm.escalated is in head
office's outbox."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.notifications.model import Step
from forecourt.alarms import alarms_service
from forecourt.local import free_port
from forecourt.roles import Role, policy
from forecourt.settings import Settings
from telemetry.alarms.external import raise_condition
from telemetry.contracts.broker import BrokerAddress
from tests.integration.notifications.support import (
    OTHER_PHONE,
    PHONE,
    contact,
    job_app,
    messaging_sim,
    route,
    rows,
    save,
    worker,
)

pytestmark = pytest.mark.integration

STATION = "st-nt1"
RULES = """
rules:
  - code: wetstock.variance
    kind: condition
    priority: high
    area: 油罐区
    message: 罐存差异超限 (stock variance over tolerance)
"""


async def _until(check, what: str, within_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within_s
    while not (found := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return found


async def test_a_station_alarm_reaches_sms_and_escalates_after_its_delay(
        database_url: str, station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    li, _zhao = await save(database_url, contact("李站长"), contact("赵经理", OTHER_PHONE, None, "duty"))
    await save(database_url, route(Step(0, "sms", contacts=(li,)), Step(0.05, "sms", groups=("duty",)),
                                   rule="wetstock.*"))
    settings = Settings(group=group, alarm_rules_file=rules, mqtt_v5=broker.mqtt5)  # type: ignore[call-arg]
    consumer = EventConsumer(database_url, broker, client_id=f"notify-test-{group}", group=group,
                             bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with messaging_sim() as messaging:
        app = job_app(database_url, messaging.channels())
        tasks = [asyncio.create_task(alarms_service(settings, station_database_url, broker, STATION, free_port())),
                 asyncio.create_task(consumer.run())]
        try:
            async with app.open_async(), worker(app):
                await asyncio.wait_for(consumer.subscribed.wait(), 20)
                async with await psycopg.AsyncConnection.connect(station_database_url) as conn, conn.transaction():
                    await raise_condition(conn, STATION, "wetstock.variance", "tank-1", True, 412.0, 300.0)

                async def to(phone: str) -> list[dict[str, object]]:
                    return [m for m in (await messaging.received("sms"))["received"] if m["PhoneNumbers"] == phone]

                first = await _until(lambda: to(PHONE), "the first SMS")
                assert first[0]["TemplateParam"]["alarm"].startswith("罐存差异超限")   # type: ignore[index]
                assert first[0]["TemplateParam"]["station"] == STATION   # type: ignore[index]
                escalated = await _until(lambda: to(OTHER_PHONE), "the escalation SMS")
                assert len(escalated) == 1 and len(await to(PHONE)) == 1
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    after = await rows(database_url, "SELECT d.step, d.created_at - a.raised_at "
                                     "FROM business.notification_deliveries d "
                                     "JOIN business.notification_alarms a USING (alarm_id) ORDER BY d.step")
    assert [step for step, _ in after] == [0, 1]
    assert after[1][1].total_seconds() >= 3.0         # the escalation: 0.05 minutes after the station raised it
    # on the station's topic, its company's group from master data (this station has none: the default group)
    outbox = await rows(database_url, "SELECT topic FROM business.outbox WHERE topic LIKE '%%alarm.escalated'")
    assert outbox == [(f"forecourt/v1/demo-co/{STATION}/events/alarm.escalated",)]
