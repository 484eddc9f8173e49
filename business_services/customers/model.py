"""Pure rules of the customers' login to the H5 by SMS verification code (docs/h5.md), no I/O.

A code is six digits, valid ``CODE_MINUTES`` and for ``MAX_ATTEMPTS`` wrong guesses, used once, kept only as a
salted SHA-256 digest. A phone may ask for one code a minute and five an hour (``refusal_to_send``). ``verdict``
is the one place that decides whether a typed code logs in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_MINUTES = 5
MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)
PER_HOUR = 5

MOBILE = re.compile(r"^1[3-9][0-9]{9}$")

TOO_SOON = "验证码发送太频繁，请 1 分钟后再试 (a code was sent less than a minute ago: wait and try again)"
TOO_MANY = "该手机号 1 小时内获取验证码次数过多，请稍后再试 (too many codes for this phone this hour: try later)"
WRONG = "验证码错误，请重新输入 (the code is wrong: type it again)"
EXPIRED = "验证码已过期，请重新获取 (the code has expired: ask for a new one)"
EXHAUSTED = "验证码错误次数过多，请重新获取 (too many wrong codes: ask for a new one)"
NO_CODE = "请先获取验证码 (ask for a code first)"


class LoginRefused(Exception):
    """Why a code was not sent or did not log in; ``status`` the HTTP answer (422, 429)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True, slots=True)
class SentCode:
    """One code as kept: its digest and salt, when it lapses, the wrong guesses so far, whether it was used."""

    id: int
    salt: bytes
    digest: bytes
    sent_at: datetime
    expires_at: datetime
    attempts: int
    used_at: datetime | None


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def digest(code: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + code.encode()).digest()


def refusal_to_send(sent_at: list[datetime], now: datetime) -> str | None:
    """Why the phone may not get another code now (``sent_at``: its codes of the last hour), or None."""
    if any(now - at < RESEND_AFTER for at in sent_at):
        return TOO_SOON
    if sum(1 for at in sent_at if now - at < timedelta(hours=1)) >= PER_HOUR:
        return TOO_MANY
    return None


def verdict(latest: SentCode | None, typed: str, now: datetime) -> str | None:
    """Why ``typed`` does not log in with the phone's latest code (None: it does). A wrong guess counts."""
    if latest is None or latest.used_at is not None:
        return NO_CODE
    if now >= latest.expires_at:
        return EXPIRED
    if latest.attempts >= MAX_ATTEMPTS:
        return EXHAUSTED
    if not hmac.compare_digest(digest(typed, latest.salt), latest.digest):
        return WRONG
    return None
