"""Online payments through head office (docs/online-payments.md): station servers charge, ask, cancel and
refund WeChat Pay and Alipay orders here; the providers call back here.

Every route but the two callbacks needs ``payment:online`` (a station server's API key carries it) and the
payment's station in the caller's scope; the POSTs take an ``Idempotency-Key``. The callbacks have no login
(a provider cannot log in): the provider's signature is verified with its SDK instead, and a bad one is
refused and logged as a security event without the body.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from business_services.online_payments.alipay import AlipayGateway
from business_services.online_payments.handlers import Conflict, NotFound, OnlinePayments
from business_services.online_payments.model import ProviderGateway, RefundRefused
from business_services.online_payments.papay import PapayGateway
from business_services.online_payments.settings import alipay_from_env, wechat_from_env
from business_services.online_payments.wechat import WeChatGateway
from business_services.payments.providers import ChargeRequest, ChargeResult, RefundResult
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.security import Principal, require
from telemetry.contracts.events.payments import Method

router = APIRouter(prefix="/api/v1/online-payments", tags=["online-payments"])
security_log = logging.getLogger("forecourt.security")

Payer = Annotated[Principal, Depends(require("payment:online"))]
NUMBER = r"^[A-Za-z0-9_-]{6,32}$"    # WeChat's and Alipay's out_trade_no: letters, digits, _ and -, ≤ 32
Number = Annotated[str, Field(pattern=NUMBER, description="our number, the provider's out_trade_no")]
PaymentNo = Annotated[str, Path(pattern=NUMBER, description="支付单号 payment number")]
ONLINE = (Method.WECHAT, Method.ALIPAY, Method.UNIONPAY_QR, Method.ECNY, Method.AGREEMENT)


class ChargeBody(BaseModel):
    station: Annotated[str, Field(min_length=1, max_length=32)]
    payment_no: Number
    method: Annotated[Method, Field(description="wechat, alipay, unionpay_qr or ecny")]
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000)]
    description: Annotated[str, Field(min_length=1, max_length=127)]
    auth_code: Annotated[str | None, Field(pattern=r"^[0-9]{16,24}$", description="付款码 scanned by the POS")] = None
    member_no: Annotated[str | None, Field(pattern=r"^M[0-9]{8,12}$",
                                           description="agreement (免密支付): the member whose agreement pays")] = None


class RefundBody(BaseModel):
    refund_no: Number
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000)]
    reason: Annotated[str, Field(max_length=80)] = ""


class ChargeAnswer(BaseModel):
    payment_no: str
    state: str
    provider_ref: str | None
    qr_code_url: str | None
    message: str

    @classmethod
    def of(cls, payment_no: str, r: ChargeResult) -> ChargeAnswer:
        return cls(payment_no=payment_no, state=r.state.value, provider_ref=r.provider_ref, qr_code_url=r.qr_code_url,
                   message=r.message)


class RefundAnswer(BaseModel):
    refund_no: str
    state: str
    provider_ref: str | None
    message: str

    @classmethod
    def of(cls, refund_no: str, r: RefundResult) -> RefundAnswer:
        return cls(refund_no=refund_no, state=r.state.value, provider_ref=r.provider_ref, message=r.message)


def gateways(request: Request) -> dict[Method, ProviderGateway]:
    """The providers head office is set up for: ``app.state.online_gateways`` (tests, the demo), else read once
    from the ``WECHATPAY_*`` / ``ALIPAY_*`` environment."""
    found: dict[Method, ProviderGateway] | None = getattr(request.app.state, "online_gateways", None)
    if found is None:
        found = {}
        wechat, alipay = wechat_from_env(), alipay_from_env()
        if wechat is not None:
            found[Method.WECHAT] = WeChatGateway(wechat)
        if wechat is not None and wechat.papay_plan_id is not None:
            found[Method.AGREEMENT] = PapayGateway(wechat, wechat.papay_plan_id, wechat.papay_notify_url)
        if alipay is not None:
            found[Method.ALIPAY] = AlipayGateway(alipay)
        request.app.state.online_gateways = found
    return found


def _service(request: Request, db: Db) -> OnlinePayments:
    return OnlinePayments(db, gateways(request))


Service = Annotated[OnlinePayments, Depends(_service)]


async def _scoped(service: OnlinePayments, payment_no: str, who: Principal) -> None:
    """404 for an unknown payment, 403 for another station's."""
    try:
        station = (await service.payment(payment_no))["station"]
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    who.check_station(station)


# --- the providers' callbacks (no login: the signature is the proof) ---------------------------------

async def _notified(request: Request, service: OnlinePayments, method: Method, refused: Response,
                    accepted: Response) -> Response:
    gateway = service.gateways.get(method)
    if gateway is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{method.value} 尚未开通 (this provider is not set up)")
    notice = gateway.verify(dict(request.headers), await request.body())
    if notice is None:
        security_log.warning("security: %s callback refused (signature or content does not verify) from %s",
                             gateway.name, request.client.host if request.client else "?")
        return refused
    await service.notified(gateway.name, notice)
    return accepted


@router.post("/notify/wechatpay", include_in_schema=False)
async def wechatpay_notify(request: Request, service: Service) -> Response:
    """WeChat Pay wants 200/204 for taken, else 4xx/5xx with ``{"code": "FAIL", "message": …}`` (it retries)."""
    return await _notified(request, service, Method.WECHAT,
                           JSONResponse({"code": "FAIL", "message": "签名错误"}, status.HTTP_401_UNAUTHORIZED),
                           Response(status_code=status.HTTP_204_NO_CONTENT))


@router.post("/notify/alipay", include_in_schema=False)
async def alipay_notify(request: Request, service: Service) -> Response:
    """Alipay wants the text ``success``; anything else (``fail``) and it retries."""
    return await _notified(request, service, Method.ALIPAY, PlainTextResponse("fail", status.HTTP_400_BAD_REQUEST),
                           PlainTextResponse("success"))


# --- the station server's calls --------------------------------------------------------------------

@router.post("")
async def create(body: ChargeBody, request: Request, db: Db, who: Payer, key: IdempotencyKey,
                 service: Service) -> JSONResponse:
    """Create the provider order (once per payment_no); a QR payment answers pending with its code URL."""
    who.check_station(body.station)
    if body.method not in ONLINE:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"{body.method.value} 不是线上支付方式 (not an online method; use wechat or alipay)")
    if body.method == Method.AGREEMENT and body.member_no is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "免密支付须指明会员 member_no (a deduction by agreement names the member)")

    async def work() -> ChargeAnswer:
        try:
            result = await service.charge(ChargeRequest(body.payment_no, body.station, body.method, body.amount_fen,
                                                        body.description, body.auth_code, member_no=body.member_no))
        except Conflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return ChargeAnswer.of(body.payment_no, result)
    return await once(request, db, who, key, work)


@router.get("/{payment_no}")
async def read(payment_no: PaymentNo, who: Payer, service: Service) -> ChargeAnswer:
    """From head office's table; a pending payment is asked of the provider first."""
    await _scoped(service, payment_no, who)
    return ChargeAnswer.of(payment_no, await service.status(payment_no))


@router.post("/{payment_no}/cancel")
async def cancel(payment_no: PaymentNo, request: Request, db: Db, who: Payer, key: IdempotencyKey,
                 service: Service) -> JSONResponse:
    """Close the provider order; answers succeeded if the customer paid after all."""
    await _scoped(service, payment_no, who)

    async def work() -> ChargeAnswer:
        return ChargeAnswer.of(payment_no, await service.cancel(payment_no, who.actor))
    return await once(request, db, who, key, work)


@router.post("/{payment_no}/refunds")
async def refund(payment_no: PaymentNo, body: RefundBody, request: Request, db: Db, who: Payer, key: IdempotencyKey,
                 service: Service) -> JSONResponse:
    """Refund part or all of a succeeded payment (never more than is left)."""
    await _scoped(service, payment_no, who)

    async def work() -> RefundAnswer:
        try:
            result = await service.refund(body.refund_no, payment_no, body.amount_fen, body.reason, who.actor)
        except RefundRefused as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        except Conflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return RefundAnswer.of(body.refund_no, result)
    return await once(request, db, who, key, work)


