"""催款短信: each dunning notice (``receivables.dun``) sent by SMS to the enterprise contact it names, once.

The job ``fleet_dunning_sms`` (every minute, ``register``) takes the notices due, one at a time: claimed in one
transaction (``sending``, an attempt counted), sent with no transaction open (Aliyun SendSms through
``notifications/channels.py``, the template ``FORECOURT_SMS_DUNNING_TEMPLATE_CODE``: ${enterprise}对账单${statement}
欠款${amount}元已于${due}到期，逾期${days}天，请尽快付款), and the answer recorded in another: ``sent`` with the
provider's id; ``failed`` with the reason when nothing can help (no phone, a number the provider refuses, the
attempts used up: the page shows it); else ``pending`` again, due after the notifications' back-off. A worker killed
between the provider's acceptance and the record leaves the notice ``sending``; ten minutes later it is taken
again and sent once more (its ``OutId`` is the notice's, so the provider's records tell the two apart). Two workers
never take one notice (``FOR UPDATE SKIP LOCKED``). A failed notice is sent again when staff ask (``resend``,
after putting the enterprise's contact right). Phones never appear in a log line at INFO.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
from procrastinate import JobContext
from psycopg.rows import dict_row

from business_services.audit.model import AuditEntry
from business_services.notifications.channels import AliyunSms, MessagingConfig, SendFailed
from business_services.notifications.model import gives_up, retry_after_s
from business_services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
TASK = "fleet_dunning_sms"
STUCK_AFTER = timedelta(minutes=10)
NO_PHONE = "企业未登记联系人手机号，请在企业资料中补充 (the enterprise has no contact phone)"

_CLAIM = """
    UPDATE business.fleet_dunning_notices d
       SET sms_status = 'sending', sms_attempts = d.sms_attempts + 1, sms_due_at = %(now)s
      FROM business.fleet_enterprises e, business.fleet_statements s
     WHERE d.id = (SELECT id FROM business.fleet_dunning_notices
                    WHERE (sms_status = 'pending' AND sms_due_at <= %(now)s)
                       OR (sms_status = 'sending' AND sms_due_at <= %(stuck)s)
                    ORDER BY sms_due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
       AND e.code = d.enterprise AND s.statement_no = d.statement_no
    RETURNING d.id, d.statement_no, e.name, d.contact_phone, d.outstanding_fen, d.overdue_days, s.due_on,
              d.sms_attempts"""


def variables(notice: dict[str, Any]) -> dict[str, str]:
    """The template's variables (Aliyun takes at most 35 characters each)."""
    fen = notice["outstanding_fen"]
    return {"enterprise": notice["name"][:35], "statement": notice["statement_no"][:35],
            "amount": f"{fen // 100}.{fen % 100:02d}", "due": notice["due_on"].isoformat(),
            "days": str(notice["overdue_days"])}


async def _record(conn: psycopg.AsyncConnection, notice_id: int, status: str, *, error: str = "", sms_id: str = "",
                  sent_at: datetime | None = None, due_at: datetime | None = None) -> None:
    await conn.execute("UPDATE business.fleet_dunning_notices SET sms_status = %s, sms_error = %s, sms_id = %s, "
                       "sms_sent_at = %s, sms_due_at = coalesce(%s, sms_due_at) WHERE id = %s",
                       (status, error[:300], sms_id, sent_at, due_at, notice_id))


async def send_one(conn: psycopg.AsyncConnection, sms: AliyunSms, template: str, now: datetime) -> str:
    """Take the next notice due and send it; its status afterwards ('' when none was due). ``conn`` in autocommit."""
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_CLAIM, {"now": now, "stuck": now - STUCK_AFTER})
        notice = await cur.fetchone()
    if notice is None:
        return ""
    if not notice["contact_phone"]:
        await _record(conn, notice["id"], "failed", error=NO_PHONE)
        return "failed"
    form = sms.template_request(notice["contact_phone"], template, f"dunning-{notice['id']}", variables(notice))
    try:
        sms_id = await sms.post(form)
    except SendFailed as failure:
        attempts = notice["sms_attempts"]
        done = gives_up(attempts, failure.retryable)
        await _record(conn, notice["id"], "failed" if done else "pending", error=str(failure),
                      due_at=None if done else now + timedelta(seconds=retry_after_s(attempts)))
        log.warning("dunning notice %s (attempt %d): SMS failed: %s; %s", notice["id"], attempts, failure,
                    "given up" if done else "tried again later")
        return "failed" if done else "pending"
    await _record(conn, notice["id"], "sent", sms_id=sms_id, sent_at=now)
    log.info("dunning notice %s sent by SMS", notice["id"])
    return "sent"


async def send_due(conn: psycopg.AsyncConnection, config: MessagingConfig, now: datetime | None = None) -> int:
    """Every notice due now, one after another; how many were sent."""
    sms, sent = AliyunSms(config), 0
    while status := await send_one(conn, sms, config.sms_dunning_template_code, now or datetime.now(UTC)):
        sent += status == "sent"
    return sent


async def resend(uow: UnitOfWork, notice_id: int) -> bool:
    """A failed (or never sent) notice due again, to the enterprise's first contact as it is now, with fresh
    attempts; audited. False when the notice is not one to send again (sent, on its way, or no such notice)."""
    cur = await uow.conn.execute(
        """UPDATE business.fleet_dunning_notices d
              SET sms_status = 'pending', sms_attempts = 0, sms_error = '', sms_due_at = now(),
                  contact_name = coalesce(e.contacts -> 0 ->> 'name', ''),
                  contact_phone = coalesce(e.contacts -> 0 ->> 'phone', '')
             FROM business.fleet_enterprises e
            WHERE d.id = %s AND e.code = d.enterprise AND d.sms_status IN ('failed', 'not_sent')
        RETURNING d.statement_no, d.level""", (notice_id,))
    row = await cur.fetchone()
    if row is not None:
        await uow.audit(AuditEntry("fleet.dunning.resend", f"fleet_statement:{row[0]}", None, None,
                                   {"notice": notice_id, "level": row[1]}))
    return row is not None


def register(app: procrastinate.App, config: MessagingConfig | None, queue: str) -> None:
    """The job on ``app`` (``business_services/jobs``), every minute, with the installation's messaging settings."""
    settings = config or MessagingConfig()

    @app.periodic(cron="* * * * *", periodic_id=TASK)
    @app.task(name=TASK, queue=queue, pass_context=True)
    async def send_task(context: JobContext, timestamp: int = 0) -> int:
        pool = context.app.connector.pool  # type: ignore[attr-defined]   # PsycopgConnector's
        async with pool.connection() as conn:
            await conn.set_autocommit(True)
            return await send_due(conn, settings)
