"""Face payment at the terminal (刷脸支付; docs/vision.md "Face payment at the terminal", docs/pos.md), at the station
server: ``POST /api/v1/stations/{station}/face-payments`` (multipart: ``image`` one JPEG frame of the terminal's
camera, ``order_nos`` one or more, ``terminal``; ``payment:take``; Idempotency-Key). Head office's gallery
identifies the face (the station's API key needs ``face:identify``); a live match of a member who pays without the
cashier pays the orders from their stored-value card (``business_services/face_payments``). A refusal the page can
retry with its next frame answers 200 with ``paid: false``, ``retry: true``; the payments context's own refusals
(no shift, an order another terminal holds) are 4xx as on ``POST …/payments``. Every attempt is audited
(``face.pay``).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from business_services.face_payments import service
from business_services.payments.registry import head_office_link
from business_services.station_members.model import mask_card
from control_api.deps import Station
from control_api.idempotency import IdempotencyKey, form_digest, once
from control_api.routes.payments import DOC_NO, PaymentOut, payment_refusals, providers_of, station_bus
from control_api.security import Principal, at_station

router = APIRouter(prefix="/api/v1/stations/{station}/face-payments", tags=["face-payments"])

Taker = Annotated[Principal, Depends(at_station("payment:take"))]
MAX_FRAME_BYTES = 2 * 1024 * 1024         # control_api/limits.py UPLOAD_SUFFIXES
ORDER_NO = re.compile(DOC_NO)


class FacePaymentOut(BaseModel):
    paid: bool
    refusal: str | None                   # the refusal's code (no_face, several_faces, spoof, no_match, …)
    message: str                          # what the cashier reads (Chinese, then English)
    retry: bool                           # the next frame may do
    member_no: str | None
    member_name: str | None               # masked as the station's member list holds it (张*)
    card_masked: str | None
    similarity: float | None
    payments: list[PaymentOut]
    timings_ms: dict[str, float]


def _answer(outcome: service.Outcome) -> FacePaymentOut:
    payer, refusal = outcome.payer, outcome.refusal
    return FacePaymentOut(
        paid=outcome.paid, refusal=refusal.code if refusal else None,
        message=refusal.message if refusal else "刷脸支付成功 (paid by face)" if outcome.paid else
        "收款结果待确认 (the payment is pending)",
        retry=bool(refusal and refusal.retry), member_no=payer.member_no if payer else None,
        member_name=payer.name_masked if payer else None, card_masked=mask_card(payer.card_no) if payer else None,
        similarity=outcome.similarity, payments=[PaymentOut.of(p) for p in outcome.payments],
        timings_ms=outcome.timings_ms)


@router.post("", response_model=FacePaymentOut)
async def pay_by_face(station: Station, who: Taker, key: IdempotencyKey, request: Request,
                      image: Annotated[UploadFile, File(description="终端摄像头的一帧 JPEG (one JPEG frame)")],
                      order_nos: Annotated[list[str], Form(description="要支付的订单号 (the orders to pay)")],
                      terminal: Annotated[str, Form(min_length=1, max_length=64,
                                                    pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]) -> JSONResponse:
    """Look, liveness, pay: the terminal's frame identified at head office; a live match of a member who pays
    without the cashier pays the orders from their stored-value card, once per Idempotency-Key."""
    bus, providers, db = station_bus(request), providers_of(request), request.app.state.database
    if not 1 <= len(order_nos) <= 50 or len(set(order_nos)) != len(order_nos) \
            or not all(ORDER_NO.match(n) for n in order_nos):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "请选择 1–50 笔订单，每单一次 (give 1–50 order numbers, each once)")
    frame = await image.read(MAX_FRAME_BYTES + 1)
    if not frame or len(frame) > MAX_FRAME_BYTES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "请上传一帧不超过 2 MB 的 JPEG 画面 (one JPEG frame of at most 2 MB)")
    asked = service.FacePayment(station, terminal, tuple(order_nos), frame)

    async def work() -> FacePaymentOut:
        with payment_refusals():
            async with db.autocommit() as conn:
                outcome = await service.pay(conn, bus, providers, head_office_link(providers), who.actor, asked)
        return _answer(outcome)

    return await once(request, db, who, key, work, form_digest(request, terminal, *order_nos, frame))
