"""The job that pushes drive-through notices to members (docs/h5.md): ``drive_through.push`` {key}.

One notice (a row of ``business.drive_through_pushes``, written once per (kind, reference) by
``head_office.py``) goes to the member by WeChat template message when they have a bound openid and the template
is configured, else by SMS to their phone (Aliyun SendSms), through the channels of
``business_services/notifications/channels.py`` (the messaging simulator here):

- ``awaiting``: 请确认支付 — station, amount, grade and litres, and the H5 link ``<h5_url>c/<token>``. The token is
  random (16 bytes), new at each send; only its SHA-256 is kept, on the confirmation, so the link opens that one
  confirmation until it is answered or its window closes, and nothing stored can be replayed as a link. An order
  answered or expired before its notice went out is not pushed (``dropped``).
- ``paid``: 已从储值卡支付 X 元 (the card's last four digits).

Claim in one transaction, send with none open, record in another: a failure the provider may recover from is
tried again later (a new job at ``retry_after_s``, up to the notifications' ``MAX_ATTEMPTS``), a permanent one
(an invalid number, an unfollowed openid) is ``failed``. A worker killed between the provider's acceptance and the
record leaves the row ``sending``; the next job for it after 10 minutes sends it again (the SMS ``OutId`` and the
row key let a receiver tell). Phones and openids never appear in a log line at INFO.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
from procrastinate import JobContext

from business_services.drive_through import head_office_repository as repository
from business_services.members import views as members
from business_services.notifications.channels import AliyunSms, MessagingConfig, SendFailed, WeChatTemplate
from business_services.notifications.model import gives_up, retry_after_s
from business_services.stations.model import GRADES
from business_services.stations.views import station_detail

log = logging.getLogger(__name__)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def grade_name(grade: int) -> str:
    found = GRADES.get(str(grade))
    return found.name if found is not None else f"{grade}号油品"


def link_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Channels:
    """The two ways to reach a member, from the installation's messaging settings."""

    def __init__(self, config: MessagingConfig) -> None:
        self.config, self.sms, self.wechat = config, AliyunSms(config), WeChatTemplate(config)

    def wechat_body(self, openid: str, first: str, station: str, amount_fen: int, what: str, at: datetime,
                    url: str) -> dict[str, Any]:
        local = at.astimezone().strftime("%Y-%m-%d %H:%M")
        return {"touser": openid, "template_id": self.config.wechat_member_template_id, "url": url,
                "data": {"first": {"value": first}, "keyword1": {"value": station},
                         "keyword2": {"value": f"{yuan(amount_fen)} 元"}, "keyword3": {"value": what},
                         "keyword4": {"value": local}, "remark": {"value": "点击查看详情"}}}


async def _prepare(conn: psycopg.AsyncConnection, push: repository.Push, channels: Channels,
                   now: datetime) -> tuple[str, Any] | str:
    """(channel, what to send) for a claimed notice, or why it is not sent (dropped). In the claim's transaction."""
    member = await members.profile(conn, push.member_no)
    if member is None or member["status"] == "erased":
        return "会员已注销 (the member is erased)"
    station = (await station_detail(conn, push.station) or {}).get("name") or push.station
    openid = member["wechat_openid"] if channels.config.wechat_member_template_id else None
    card = f"储值卡(尾号{push.card_no[-4:]})" if push.card_no else "储值卡"
    if push.kind == "paid":
        if openid:
            return "wechat", channels.wechat_body(openid, "无感支付成功", station, push.amount_fen,
                                                  f"已从{card}支付 {yuan(push.amount_fen)} 元", now,
                                                  channels.config.h5_url)
        return "sms", channels.sms.template_request(member["phone"], channels.config.sms_paid_template_code,
                                                    push.key[:64], {"station": station[:35], "card": card[:35],
                                                                    "amount": yuan(push.amount_fen)})
    found = await repository.confirmation(conn, push.reference, lock=True)
    if found is None or found.state != "awaiting" or found.expires_at <= now:
        return "订单已确认、已否认或已过确认时限 (answered or past its window)"
    token = secrets.token_urlsafe(16)
    await repository.set_link(conn, push.reference, link_digest(token))
    url = f"{channels.config.h5_url}c/{token}"
    if openid:
        what = f"{grade_name(found.grade)} {found.volume_l} 升，{found.fuelling_point} 号油位，请确认支付"
        return "wechat", channels.wechat_body(openid, "无感支付订单待您确认", station, found.amount_fen, what,
                                              found.fuelled_at, url)
    return "sms", channels.sms.template_request(member["phone"], channels.config.sms_confirm_template_code,
                                                push.key[:64], {"station": station[:35],
                                                                "amount": yuan(found.amount_fen), "code": token})


async def send_push(conn: psycopg.AsyncConnection, channels: Channels, key: str, now: datetime | None = None) -> str:
    """Send the notice ``key`` if it is pending; its state afterwards ('' when there was nothing to take).
    ``conn`` in autocommit."""
    now = now or datetime.now(UTC)
    async with conn.transaction():
        push = await repository.claim(conn, key, now)
        if push is None:
            return ""
        prepared = await _prepare(conn, push, channels, now)
        if isinstance(prepared, str):
            await repository.finish(conn, key, "dropped", error=prepared)
            return "dropped"
    channel, message = prepared
    try:
        if channel == "wechat":
            provider_id = await channels.wechat.post(message)
        else:
            provider_id = await channels.sms.post(message)
    except SendFailed as failure:
        done = gives_up(push.attempts, failure.retryable)
        async with conn.transaction():
            if done:
                await repository.finish(conn, key, "failed", channel=channel, error=str(failure))
            else:
                await repository.finish(conn, key, "pending", channel=channel, error=str(failure))
                await repository.defer(conn, key, now + timedelta(seconds=retry_after_s(push.attempts)))
        log.warning("drive-through notice %s (%s, attempt %d) failed: %s; %s", key, channel, push.attempts, failure,
                    "given up" if done else "tried again later")
        return "failed" if done else "pending"
    async with conn.transaction():
        await repository.finish(conn, key, "sent", channel=channel, provider_id=provider_id, at=now)
    log.info("drive-through notice %s sent by %s", key, channel)
    return "sent"


def register(app: procrastinate.App, config: MessagingConfig | None) -> None:
    """The push task on ``app`` (``business_services/jobs``), sending with the installation's messaging settings."""
    channels = Channels(config or MessagingConfig())

    @app.task(name=repository.PUSH_TASK, queue=repository.QUEUE, pass_context=True)
    async def push_task(context: JobContext, key: str) -> str:
        pool = context.app.connector.pool  # type: ignore[attr-defined]   # PsycopgConnector's
        async with pool.connection() as conn:
            await conn.set_autocommit(True)
            return await send_push(conn, channels, key)
