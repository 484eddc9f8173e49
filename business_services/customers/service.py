"""The customers' login to the H5 by phone and SMS verification code (docs/h5.md).

``ask_code``: a six-digit code for the phone of an active member, kept hashed, sent by SMS (Aliyun SendSms, the
login template) with no transaction open while the provider answers; a phone that is no member's gets no SMS
and the same answer (nobody learns from the H5 whose phone is a member's). ``log_in``: the member number when the
code is right, within 5 minutes and 5 attempts; each wrong guess is counted in its own committed transaction.
Both lock the phone for their transaction, so two taps at once are one after the other. Phones never appear in a
log line at INFO.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

import psycopg

from business_services.customers import model, repository
from business_services.customers.model import LoginRefused
from business_services.members import views as members
from business_services.notifications.channels import AliyunSms, SendFailed

log = logging.getLogger(__name__)
NOT_SENT = "验证码短信发送失败，请稍后再试 (the SMS could not be sent: try again shortly)"


def _checked(phone: str) -> str:
    if not model.MOBILE.match(phone):
        raise LoginRefused("请输入正确的 11 位手机号 (type an 11-digit mainland mobile number)")
    return phone


async def ask_code(conn: psycopg.AsyncConnection, sms: AliyunSms, group: str, phone: str, now: datetime) -> bool:
    """Send a login code to ``phone`` if it is an active member's; whether one was sent. ``conn`` in autocommit.
    ``LoginRefused`` (429) when the phone asked too often."""
    code, salt = model.new_code(), secrets.token_bytes(16)
    async with conn.transaction():
        await repository.lock_phone(conn, group, _checked(phone))
        why = model.refusal_to_send(await repository.sent_since(conn, group, phone, now - timedelta(hours=1)), now)
        if why is not None:
            raise LoginRefused(why, 429)
        if await members.active_member_of_phone(conn, group, phone) is None:
            return False
        code_id = await repository.add(conn, group, phone, salt, model.digest(code, salt), now,
                                       now + timedelta(minutes=model.CODE_MINUTES))
    try:
        await sms.post(sms.template_request(phone, sms.config.sms_login_template_code, f"login-{code_id}",
                                            {"code": code}))
    except SendFailed as failed:
        async with conn.transaction():
            await repository.withdraw(conn, code_id)
        log.warning("login code %d not sent: %s", code_id, failed)
        raise LoginRefused(NOT_SENT, 503) from None
    return True


async def log_in(conn: psycopg.AsyncConnection, group: str, phone: str, typed: str, now: datetime) -> str:
    """The member number the right code logs in; ``LoginRefused`` (422) otherwise. ``conn`` in autocommit."""
    async with conn.transaction():
        await repository.lock_phone(conn, group, _checked(phone))
        latest = await repository.latest(conn, group, phone)
        why = model.verdict(latest, typed, now)
        if why == model.WRONG and latest is not None:
            await repository.count_attempt(conn, latest.id)
        member_no = await members.active_member_of_phone(conn, group, phone) if why is None else None
        if why is None and member_no is None:
            why = model.NO_CODE                       # frozen or erased since the code was sent
        if why is None and latest is not None:
            await repository.use(conn, latest.id, now)
    if why is not None or member_no is None:
        raise LoginRefused(why or model.NO_CODE)
    return member_no
