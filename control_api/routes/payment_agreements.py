"""免密支付: a member's agreement with WeChat Pay (委托代扣), at head office (docs/online-payments.md "Payment
agreements").

Staff on the member's page: ``GET /api/v1/members/{member_no}/agreement`` (``member:read``) — the newest agreement
(one being signed is asked of WeChat Pay first); ``POST`` (``member:write``, Idempotency-Key) starts signing and
answers the signing page's ``sign_url`` for the member to open in WeChat (a QR code on the page); ``DELETE``
(``member:write``, Idempotency-Key) ends it. Each is audited (``member.agreement.*``). The member's own H5 starts and
ends theirs through the same service (``h5_agreement.py``).

WeChat Pay's contract notifications (``PAPAY.SIGN``, ``PAPAY.TERMINATE``):
``POST /api/v1/online-payments/notify/wechatpay-papay``, no login (the signature is the proof, checked by the SDK).
An agreement that ends turns the member's drive-through choice ``agreement`` off (``drive_through.choice``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from business_services.audit.model import Actor
from business_services.drive_through import choice
from business_services.members import views as member_views
from business_services.online_payments.agreements import AgreementError, Agreements
from business_services.online_payments.papay import PapayGateway
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.routes.online_payments import gateways
from control_api.security import Principal, require
from telemetry.contracts.events.payments import Method

router = APIRouter(prefix="/api/v1/members/{member_no}/agreement", tags=["payment-agreements"])
callbacks = APIRouter(prefix="/api/v1/online-payments/notify", tags=["payment-agreements"])
security_log = logging.getLogger("forecourt.security")

MemberReader = Annotated[Principal, Depends(require("member:read"))]
MemberWriter = Annotated[Principal, Depends(require("member:write"))]
MemberNoPath = Annotated[str, Path(pattern=r"^M[0-9]{8,12}$", description="会员号 (member number)")]


class AgreementOut(BaseModel):
    member_no: str
    state: str = Field(description="none 未签约, signing 签约中, active 已开通, ended 已解约")
    provider: str = "wechatpay"
    sign_url: str | None = Field(None, description="the signing page the member opens in WeChat (while signing)")
    signed_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str = ""


class EndBody(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=100, description="解约原因，如 会员申请")]


def agreements(request: Request, db: Db) -> Agreements:
    gateway = gateways(request).get(Method.AGREEMENT)
    return Agreements(db, gateway if isinstance(gateway, PapayGateway) else None, on_ended=choice.agreement_ended)


Service = Annotated[Agreements, Depends(agreements)]


def agreement_out(member_no: str, row: dict[str, Any] | None) -> AgreementOut:
    if row is None:
        return AgreementOut(member_no=member_no, state="none", sign_url=None)
    return AgreementOut(member_no=member_no, state=row["state"],
                        sign_url=row["sign_url"] if row["state"] == "signing" else None, signed_at=row["signed_at"],
                        ended_at=row["ended_at"], end_reason=row["end_reason"])


def refused(exc: AgreementError) -> HTTPException:
    return HTTPException(exc.status, exc.message)


async def existing(db: Db, member_no: str) -> None:
    """404 for no such member (or one whose personal data was erased)."""
    async with db.connection() as conn:
        found = await member_views.profile(conn, member_no)
    if found is None or found["status"] == "erased":
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有会员 {member_no} (no such member)")


async def start(service: Agreements, member_no: str, actor: Actor) -> AgreementOut:
    try:
        return agreement_out(member_no, await service.start(member_no, actor))
    except AgreementError as exc:
        raise refused(exc) from None


async def end(service: Agreements, member_no: str, actor: Actor, reason: str) -> AgreementOut:
    try:
        row = await service.end(member_no, actor, reason)
    except AgreementError as exc:
        raise refused(exc) from None
    return agreement_out(member_no, row)


@router.get("", response_model=AgreementOut)
async def read(member_no: MemberNoPath, who: MemberReader, db: Db, service: Service) -> AgreementOut:
    await existing(db, member_no)
    row = await service.current(member_no)
    return agreement_out(member_no, row)


@router.post("", response_model=AgreementOut)
async def begin(member_no: MemberNoPath, who: MemberWriter, db: Db, service: Service, key: IdempotencyKey,
                request: Request) -> JSONResponse:
    """Start signing: the page for the member to confirm on in WeChat (the same page again while unsigned)."""
    await existing(db, member_no)

    async def work() -> AgreementOut:
        return await start(service, member_no, who.actor)
    return await once(request, db, who, key, work)


@router.delete("", response_model=AgreementOut)
async def terminate(member_no: MemberNoPath, body: EndBody, who: MemberWriter, db: Db, service: Service,
                    key: IdempotencyKey, request: Request) -> JSONResponse:
    """End the agreement at WeChat Pay and here; drive-through by agreement goes off."""
    await existing(db, member_no)

    async def work() -> AgreementOut:
        return await end(service, member_no, who.actor, body.reason)
    return await once(request, db, who, key, work)


@callbacks.post("/wechatpay-papay", include_in_schema=False)
async def contract_notified(request: Request, db: Db, service: Service) -> Response:
    """WeChat Pay wants 2xx for taken, else it retries; a notification that does not verify is refused."""
    gateway = service.gateway
    if gateway is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "免密支付尚未开通 (payment agreements are not set up)")
    notice = gateway.verify_contract(dict(request.headers), await request.body())
    if notice is None:
        security_log.warning("security: wechatpay contract callback refused (signature or content does not verify) "
                             "from %s", request.client.host if request.client else "?")
        return JSONResponse({"code": "FAIL", "message": "签名错误"}, status.HTTP_401_UNAUTHORIZED)
    await service.apply(notice, Actor.system("wechatpay"))   # an ended agreement turns the choice off with it
    return Response(status_code=status.HTTP_204_NO_CONTENT)
