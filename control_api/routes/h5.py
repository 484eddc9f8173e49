"""The customer H5's API (docs/h5.md), under ``/api/v1/h5/``: customers only (``customer()``), never staff.

Login: ``POST /login/code`` {phone} sends a six-digit code by SMS to an active member's phone (the same answer for
any phone; 429 when it asks too often); ``POST /login`` {phone, code} → a customer session token (a week);
``POST /login/link`` {token} → a session good for the one drive-through confirmation the notice's link names.
``GET /me``: who is logged in (masked). The drive-through pages' routes are in ``routes/h5_drive_through.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from business_services.access.model import mask_phone
from business_services.customers import service
from business_services.customers.model import RESEND_AFTER, LoginRefused
from business_services.drive_through import head_office_repository as confirmations
from business_services.drive_through.push import link_digest
from business_services.members import views as members
from business_services.members.model import mask_name
from business_services.notifications.channels import AliyunSms, MessagingConfig
from control_api.customer_security import (
    BAD_LINK,
    LINK_SESSION_TTL_S,
    SESSION_TTL_S,
    Customer,
    customer,
    issue_session,
)
from control_api.deps import Db
from control_api.security import TokenIssuer

router = APIRouter(prefix="/api/v1/h5", tags=["h5"])
Member = Annotated[Customer, Depends(customer())]
Phone = Annotated[str, Field(pattern=r"^1[3-9][0-9]{9}$", description="手机号 (a mainland mobile number)")]
SENT = "如该手机号已注册会员，验证码已发送，5 分钟内有效 (if the phone is a member's, a code is on its way)"
NO_SMS = "短信服务未配置，请联系油站 (SMS is not set up: ask the station)"


class CodeBody(BaseModel):
    phone: Phone


class CodeSent(BaseModel):
    message: str
    resend_after_s: int


class LoginBody(BaseModel):
    phone: Phone
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="短信验证码 (the six-digit SMS code)")]


class LinkBody(BaseModel):
    token: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$", description="推送链接中的令牌 (the link's token)")]


class Session(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105   # OAuth2's token type, not a secret
    expires_in: int
    member_no: str
    only: str | None = None          # a link session: the one confirmation it may decide


class Me(BaseModel):
    member_no: str
    phone_masked: str | None
    name_masked: str
    level_name: str


def messaging(request: Request) -> MessagingConfig:
    config = cast(MessagingConfig | None, getattr(request.app.state, "messaging", None))
    if config is None or not config.sms_access_key_id:
        raise HTTPException(503, NO_SMS)
    return config


def tokens(request: Request) -> TokenIssuer:
    return cast(TokenIssuer, request.app.state.tokens)


@router.post("/login/code", response_model=CodeSent)
async def ask_code(body: CodeBody, db: Db, request: Request) -> CodeSent:
    """A login code by SMS (one a minute, five an hour per phone)."""
    sms = AliyunSms(messaging(request))
    async with db.autocommit() as conn:
        try:
            await service.ask_code(conn, sms, request.app.state.group, body.phone, datetime.now(UTC))
        except LoginRefused as refused:
            raise HTTPException(refused.status, refused.message) from None
    return CodeSent(message=SENT, resend_after_s=int(RESEND_AFTER.total_seconds()))


@router.post("/login", response_model=Session)
async def log_in(body: LoginBody, db: Db, request: Request) -> Session:
    async with db.autocommit() as conn:
        try:
            member_no = await service.log_in(conn, request.app.state.group, body.phone, body.code, datetime.now(UTC))
        except LoginRefused as refused:
            raise HTTPException(refused.status, refused.message) from None
    return Session(access_token=issue_session(tokens(request), member_no), expires_in=SESSION_TTL_S,
                   member_no=member_no)


@router.post("/login/link", response_model=Session)
async def log_in_by_link(body: LinkBody, db: Db, request: Request) -> Session:
    """The notice's link: a session for its one confirmation (no phone, no code: the link came to the member)."""
    async with db.connection() as conn:
        found = await confirmations.by_link(conn, link_digest(body.token), datetime.now(UTC))
    if found is None:
        raise HTTPException(401, BAD_LINK, headers={"WWW-Authenticate": "Bearer"})
    return Session(access_token=issue_session(tokens(request), found.member_no, only=found.recognition_id),
                   expires_in=LINK_SESSION_TTL_S, member_no=found.member_no, only=found.recognition_id)


@router.get("/me", response_model=Me)
async def me(who: Member, db: Db) -> Me:
    async with db.connection() as conn:
        found = await members.profile(conn, who.member_no)
    if found is None or found["status"] == "erased":
        raise HTTPException(404, "会员不存在，请重新登录 (no such member: log in again)")
    return Me(member_no=who.member_no, phone_masked=mask_phone(found["phone"]),
              name_masked=mask_name(found["name"] or ""), level_name=found["level_name"])
