"""Customers of the H5 (docs/h5.md): who they are, and the guard of the routes under ``/api/v1/h5/``.

A customer is a member who logged in on their phone (phone + SMS code: ``business_services/customers``), or
who followed the link of a drive-through notice, good for that one confirmation only (``Customer.only``). Their
session token is a JWT of its own kind: signed with a key derived from the installation's token secret for this
purpose alone, with the audience ``forecourt-h5``. So a staff route never accepts a customer's token (its
signature does not verify with the staff key: 401), and a customer route never accepts a staff token or an API
key (403: ``customer()`` tells them apart). Every customer route declares ``customer()``, whose "permission",
``CUSTOMER``, no staff role holds: the role-matrix test walks them like every other route.

The drive-through notice's link carries a random token whose digest head office keeps on that one confirmation
(``business_services/drive_through/push.py``); ``POST /api/v1/h5/login/link`` exchanges it for a link session.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import jwt
from fastapi import HTTPException, status
from starlette.requests import HTTPConnection

from business_services.audit.model import Actor
from control_api.security import ALGORITHM, TokenIssuer

AUDIENCE = "forecourt-h5"
CUSTOMER = "customer"                  # the "permission" of customer routes: no staff role holds it
SESSION_TTL_S = 7 * 86_400             # a phone stays logged in a week
LINK_SESSION_TTL_S = 15 * 60           # a session from a notice's link: that one confirmation, 15 minutes

LOG_IN = "请先用手机号登录 (log in with your phone number first)"
EXPIRED = "登录已过期，请重新登录 (your login has expired: log in again)"
NOT_STAFF = "员工账号不能使用顾客页面，请用会员手机号登录 (a staff login cannot use the customer app: log in " \
            "with a member's phone)"
ONLY_LINK = "此链接只能确认这一笔订单，查看其他内容请用手机号登录 (this link confirms one order only: log in " \
            "with your phone to see more)"
BAD_LINK = "链接无效或订单已处理、已过期，请用手机号登录查看 (the link is not valid, or its order was answered or " \
    "expired: log in with your phone)"


@dataclass(frozen=True, slots=True)
class Customer:
    """The caller of a customer route: a member, with the whole H5 (``only`` None) or one confirmation."""

    member_no: str
    only: str | None = None            # a link session: the recognition id it may confirm
    source: str = ""

    @property
    def actor(self) -> Actor:
        return Actor(f"customer:{self.member_no}", self.source)


def _key(issuer: TokenIssuer, purpose: str) -> str:
    return hmac.new(issuer.secret.encode(), f"forecourt/{purpose}".encode(), hashlib.sha256).hexdigest()


def issue_session(issuer: TokenIssuer, member_no: str, only: str | None = None, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    ttl = SESSION_TTL_S if only is None else LINK_SESSION_TTL_S
    claims: dict[str, Any] = {"sub": member_no, "aud": AUDIENCE, "kind": "customer", "iat": issued,
                              "exp": issued + ttl}
    if only is not None:
        claims["only"] = only
    return jwt.encode(claims, _key(issuer, "h5-session"), algorithm=ALGORITHM)


def read_session(issuer: TokenIssuer, token: str, source: str = "") -> Customer:
    """The customer of a valid session token; ``jwt.InvalidTokenError`` otherwise (a staff token included)."""
    claims = jwt.decode(token, _key(issuer, "h5-session"), algorithms=[ALGORITHM], audience=AUDIENCE,
                        options={"require": ["sub", "exp", "aud"]})
    if claims.get("kind") != "customer":
        raise jwt.InvalidTokenError("not a customer session")
    return Customer(str(claims["sub"]), claims.get("only"), source)


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def _is_staff(issuer: TokenIssuer, token: str) -> bool:
    try:
        issuer.read(token)
    except jwt.InvalidTokenError:
        return False
    return True


def customer(*, link: bool = False) -> Callable[[HTTPConnection], Awaitable[Customer]]:
    """A dependency: the logged-in customer; 401 without a valid session, 403 for a staff token or API key, and
    403 for a link session unless ``link`` (the confirmation routes check that it names their recognition)."""

    async def dependency(connection: HTTPConnection) -> Customer:
        if connection.headers.get("x-api-key"):
            raise HTTPException(status.HTTP_403_FORBIDDEN, NOT_STAFF)
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorised(LOG_IN)
        issuer = cast(TokenIssuer, connection.app.state.tokens)
        try:
            who = read_session(issuer, token.strip(), connection.client.host if connection.client else "")
        except jwt.ExpiredSignatureError:
            raise _unauthorised(EXPIRED) from None
        except jwt.InvalidTokenError:
            if _is_staff(issuer, token.strip()):
                raise HTTPException(status.HTTP_403_FORBIDDEN, NOT_STAFF) from None
            raise _unauthorised(LOG_IN) from None
        if who.only is not None and not link:
            raise HTTPException(status.HTTP_403_FORBIDDEN, ONLY_LINK)
        return who
    dependency.permission = CUSTOMER  # type: ignore[attr-defined]   # read by the role-matrix test
    return dependency
