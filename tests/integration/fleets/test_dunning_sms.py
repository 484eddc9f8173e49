"""催款短信 (business_services/fleets/dunning_sms.py) through the messaging simulator's Aliyun SendSms: each dunning
notice goes to the enterprise's contact once, with the statement, amount, due date and days overdue; a refusal the
provider may recover from is tried again after the back-off; a number it refuses, or no phone at all, is shown as
failed with the reason; a notice left ``sending`` by a killed worker goes out again after ten minutes; the job runs
in a real procrastinate worker."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from business_services import jobs
from business_services.fleets import dunning_sms, receivables
from control_api.app import create_app
from tests.integration.fleets.settle_support import billed_month, client, scalar, settler
from tests.integration.notifications.support import messaging_sim

pytestmark = pytest.mark.integration


async def _notice(database_url: str, contacts: list[dict[str, str]] | None = None) -> tuple[str, str, int]:
    code, number, total = await billed_month(database_url)                 # due 11 December
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        if contacts is not None:
            await conn.execute("UPDATE business.fleet_enterprises SET contacts = %s WHERE code = %s",
                               (json.dumps(contacts), code))
        assert await receivables.dun(conn, date(2026, 12, 12)) == 1
    return code, number, total


def soon() -> datetime:
    """A moment after now: the notices made just now are due then (their ``sms_due_at`` is the time made)."""
    return datetime.now(UTC) + timedelta(seconds=1)


async def _state(database_url: str) -> tuple[str, int, str]:
    row = await scalar(database_url, "SELECT row(sms_status, sms_attempts, sms_error) FROM "
                                     "business.fleet_dunning_notices")
    assert row is not None
    return row[0], int(row[1]), row[2]


async def test_a_notice_goes_out_once_with_its_figures_and_the_page_shows_it_sent(database_url: str) -> None:
    now = soon()
    code, number, total = await _notice(database_url)
    async with messaging_sim() as messaging, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await dunning_sms.send_due(conn, messaging.config, now) == 1
        assert await dunning_sms.send_due(conn, messaging.config, now + timedelta(hours=1)) == 0   # never again
        (sms,) = (await messaging.received("sms"))["received"]
    assert sms["PhoneNumbers"] == "13800138000" and sms["TemplateCode"] == "SMS_0000005"
    assert sms["TemplateParam"] == {"enterprise": sms["TemplateParam"]["enterprise"], "statement": number,
                                    "amount": f"{total // 100}.{total % 100:02d}", "due": "2026-12-11", "days": "1"}
    assert sms["TemplateParam"]["enterprise"] and sms["OutId"].startswith("dunning-")
    assert await _state(database_url) == ("sent", 1, "")
    app = create_app(database_url)
    async with client(app) as http:
        (shown,) = (await http.get("/api/v1/fleet-dunning-notices", headers=settler(app))).json()["items"]
    assert shown["sms_status"] == "sent" and shown["sms_sent_at"] is not None and shown["enterprise"] == code


async def test_a_passing_refusal_is_tried_again_and_a_lasting_one_is_shown(database_url: str) -> None:
    now = soon()
    await _notice(database_url)
    async with messaging_sim() as messaging, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await messaging.fault(sms_rate_limit_next=1)                       # 触发小时级流控: try later
        assert await dunning_sms.send_due(conn, messaging.config, now) == 0
        status, attempts, error = await _state(database_url)
        assert (status, attempts) == ("pending", 1) and "BUSINESS_LIMIT_CONTROL" in error
        assert await dunning_sms.send_due(conn, messaging.config, now + timedelta(seconds=1)) == 0   # not due yet
        assert await dunning_sms.send_due(conn, messaging.config, now + timedelta(minutes=1)) == 1
        assert len((await messaging.received("sms"))["received"]) == 1
        assert (await _state(database_url))[:2] == ("sent", 2)


async def test_no_phone_or_a_refused_number_fails_with_the_reason(database_url: str) -> None:
    now = soon()
    await _notice(database_url, contacts=[{"name": "王会计", "phone": "", "role": "财务"}])
    async with messaging_sim() as messaging, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await dunning_sms.send_due(conn, messaging.config, now) == 0
        assert await _state(database_url) == ("failed", 1, dunning_sms.NO_PHONE)
        await conn.execute("UPDATE business.fleet_dunning_notices SET sms_status = 'pending', contact_phone = '1234'")
        assert await dunning_sms.send_due(conn, messaging.config, now) == 0
        status, _, error = await _state(database_url)
        assert status == "failed" and "MOBILE_NUMBER_ILLEGAL" in error            # retrying cannot help
        assert (await messaging.received("sms"))["received"] == []
        await conn.execute("UPDATE business.fleet_enterprises SET contacts = %s",
                           (json.dumps([{"name": "王会计", "phone": "13900139000", "role": "财务"}]),))
        app = create_app(database_url)
        async with client(app) as http:
            (notice,) = (await http.get("/api/v1/fleet-dunning-notices", headers=settler(app))).json()["items"]
            path = f"/api/v1/fleet-dunning-notices/{notice['id']}/resend"
            assert (await http.post(path, headers=settler(app, stations=frozenset({"demo-01"})))).status_code == 403
            assert (await http.post(path, headers=settler(app))).status_code == 204     # the phone put right
            assert await dunning_sms.send_due(conn, messaging.config, soon()) == 1
            assert (await http.post(path, headers=settler(app))).status_code == 409     # sent: nothing to resend
        (sms,) = (await messaging.received("sms"))["received"]
        assert sms["PhoneNumbers"] == "13900139000"
    assert await scalar(database_url, "SELECT count(*) FROM business.audit_log WHERE action = 'fleet.dunning.resend'") \
        == 1


async def test_a_notice_left_sending_by_a_killed_worker_goes_out_after_ten_minutes(database_url: str) -> None:
    now = soon()
    await _notice(database_url)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE business.fleet_dunning_notices SET sms_status = 'sending', sms_attempts = 1, "
                           "sms_due_at = %s", (now,))
    async with messaging_sim() as messaging, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await dunning_sms.send_due(conn, messaging.config, now + timedelta(minutes=9)) == 0
        assert await dunning_sms.send_due(conn, messaging.config, now + timedelta(minutes=11)) == 1
    assert (await _state(database_url))[:2] == ("sent", 2)


async def test_the_job_sends_in_a_worker(database_url: str) -> None:
    await _notice(database_url)
    async with messaging_sim() as messaging:
        worker = jobs.build_app(database_url, messaging=messaging.config)
        async with worker.open_async():
            await worker.tasks[dunning_sms.TASK].defer_async()
            await worker.run_worker_async(queues=[jobs.QUEUE], wait=False, install_signal_handlers=False)
        assert len((await messaging.received("sms"))["received"]) == 1
    assert (await _state(database_url))[0] == "sent"
