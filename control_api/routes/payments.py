"""Payments at the station server: the methods, taking a payment (split, merged), looking at and cancelling
a pending one, refunds, and the order's receipt (a page and ESC/POS to the station's printer).

Reads need ``payment:read``, taking and cancelling ``payment:take``, refunds ``payment:refund``; every route
checks the caller's station. Taking a payment and asking for a refund need an ``Idempotency-Key``: a retried
request gets the first answer and never charges twice. The flow is ``business_services/payments/service.py``
(docs/payments.md); head office takes no payments (409).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from business_services.audit.model import Actor
from business_services.messagebus import MessageBus
from business_services.orders.model import OrderRuleError
from business_services.payments import receipts, repository, service
from business_services.payments.handlers import RequestRefund
from business_services.payments.model import PaymentNotFound, PaymentRuleError, TakePayment, Tender
from business_services.payments.registry import Providers
from control_api.database import DatabaseUnavailable
from control_api.deps import Db, GatedStation
from control_api.idempotency import IdempotencyKey, once, once_in_two_transactions
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, at_station
from telemetry.contracts.events.payments import Method

router = APIRouter(prefix="/api/v1/stations/{station}", tags=["payments"])
log = logging.getLogger(__name__)
STARTUP = Actor(name="system", source="startup")

T = TypeVar("T")
DOC_NO = r"^[A-Za-z0-9][A-Za-z0-9_.-]{5,63}$"
PaymentNo = Annotated[str, Path(pattern=DOC_NO, description="收款单号 payment number")]
OrderNo = Annotated[str, Path(pattern=DOC_NO, description="订单号 order number")]
AT_STATION_ONLY = "收款只在加油站的站级服务器办理 (payments are taken at the station server, not at head office)"


Reader = Annotated[Principal, Depends(at_station("payment:read"))]
Taker = Annotated[Principal, Depends(at_station("payment:take"))]
Refunder = Annotated[Principal, Depends(at_station("payment:refund"))]


def providers_of(request: Request) -> Providers:
    """The process's providers (the app is given its online ones; offline tenders always)."""
    providers: Providers = request.app.state.payment_providers
    return providers


async def reconcile_at_start(app: FastAPI, within_s: float = 10.0) -> None:
    """Settle what a crash left pending (each payment asked of its provider), before taking new payments. A
    database or provider that does not answer in time only delays this to the next look at each payment."""
    providers: Providers = app.state.payment_providers
    try:
        async with app.state.database.connection() as conn:
            settled = await asyncio.wait_for(service.reconcile(conn, app.state.bus, providers, STARTUP), within_s)
        log.info("payments reconciled at start: %d settled", settled)
    except (TimeoutError, DatabaseUnavailable, psycopg.OperationalError) as exc:
        log.warning("payments not reconciled at start (done on the next look at each): %s", exc)


def station_bus(request: Request) -> MessageBus:
    bus: MessageBus = request.app.state.bus
    if TakePayment not in bus.commands:
        raise HTTPException(status.HTTP_409_CONFLICT, AT_STATION_ONLY)
    return bus


@contextmanager
def payment_refusals() -> Iterator[None]:
    """The payment rules' refusals as HTTP answers."""
    try:
        yield
    except PaymentRuleError as exc:
        raise HTTPException(exc.status, exc.message) from None
    except PaymentNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except OrderRuleError as exc:       # the orders context refused (over-payment, over-refund)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


class TenderBody(BaseModel):
    method: Method
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000, description="金额（分）amount in fen")]
    auth_code: Annotated[str | None, Field(max_length=64, description="付款码 (online, scanned)")] = None
    reference: Annotated[str | None, Field(max_length=64, description="刷卡参考号 (bank card: required)")] = None
    note: Annotated[str | None, Field(max_length=200, description="说明 (other: required)")] = None
    card_no: Annotated[str | None, Field(pattern=r"^[0-9]{16}([0-9]{3})?$",
                                         description="储值卡号 (stored value: required)")] = None
    member_no: Annotated[str | None, Field(pattern=r"^M[0-9]{8,12}$", description="会员号 (points: required)")] = None
    auth_no: Annotated[str | None, Field(pattern=DOC_NO, description="车队授权号 (fleet credit: required)")] = None


class PaymentBody(BaseModel):
    terminal: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    order_nos: Annotated[list[Annotated[str, Field(pattern=DOC_NO)]], Field(min_length=1, max_length=50)]
    tenders: Annotated[list[TenderBody], Field(min_length=1, max_length=10)]


class RefundBody(BaseModel):
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000)]
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class AllocationOut(BaseModel):
    order_no: str
    amount_fen: int
    refunded_fen: int


class PaymentOut(BaseModel):
    payment_no: str
    station: str
    shift_no: str
    terminal: str
    cashier: str
    method: str
    amount_fen: int
    state: str
    provider_ref: str | None
    qr_code_url: str | None
    message: str
    refunded_fen: int
    created_at: datetime
    settled_at: datetime | None
    allocations: list[AllocationOut]

    @classmethod
    def of(cls, row: repository.PaymentRow) -> PaymentOut:
        return cls(payment_no=row.payment_no, station=row.station, shift_no=row.shift_no, terminal=row.terminal,
                   cashier=row.cashier, method=row.method, amount_fen=row.amount_fen, state=row.state,
                   provider_ref=row.provider_ref, qr_code_url=row.qr_code_url, message=row.message,
                   refunded_fen=row.refunded_fen, created_at=row.created_at, settled_at=row.settled_at,
                   allocations=[AllocationOut(order_no=o, amount_fen=a, refunded_fen=f) for o, a, f in row.allocations])


class TakenOut(BaseModel):
    payments: list[PaymentOut]


class RefundOut(BaseModel):
    refund_no: str
    payment_no: str
    amount_fen: int
    state: str
    reason: str
    approval_id: str | None
    requested_by: str
    executed_by: str | None
    message: str
    created_at: datetime
    settled_at: datetime | None

    @classmethod
    def of(cls, r: repository.RefundRow) -> RefundOut:
        return cls(refund_no=r.refund_no, payment_no=r.payment_no, amount_fen=r.amount_fen, state=r.state,
                   reason=r.reason, approval_id=r.approval_id, requested_by=r.requested_by,
                   executed_by=r.executed_by, message=r.message, created_at=r.created_at, settled_at=r.settled_at)


class PaymentDetail(PaymentOut):
    refunds: list[RefundOut]


class PrintedOut(BaseModel):
    order_no: str
    copy_no: int               # 1: the first print; above: a reprint (重印 COPY)
    bytes_sent: int


@router.get("/payments/methods")
async def methods(station: GatedStation, who: Reader, request: Request) -> dict[str, Any]:
    """Every method, whether it can take a payment now and, if not, why (e.g. head office unreachable)."""
    items = [{"method": m.method.value, "label": m.label, "available": m.available, "reason": m.reason,
              "safe_offline": m.safe_offline} for m in providers_of(request).methods()]
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.post("/payments", response_model=TakenOut)
async def take_payment(station: GatedStation, body: PaymentBody, who: Taker, key: IdempotencyKey,
                       request: Request) -> Response:
    """One payment per tender; a succeeded one has settled its orders, a pending one (online) shows its QR."""
    # the database read from the app, not through ``Db``: one dependency fewer to solve per payment
    bus, providers, db = station_bus(request), providers_of(request), request.app.state.database
    command = TakePayment(station, body.terminal, who.username, tuple(body.order_nos),
                          tuple(Tender(t.method, t.amount_fen, t.auth_code, t.reference, t.note, t.card_no, t.member_no,
                                       t.auth_no)
                                for t in body.tenders),
                          datetime.now(UTC))

    async def opened(conn: psycopg.AsyncConnection) -> list[str]:
        with payment_refusals():
            return await service.open_at_once(conn, bus, providers, command, who.actor)

    async def settled(conn: psycopg.AsyncConnection, numbers: list[str], with_commit: list[str]) -> TakenOut:
        with payment_refusals():
            rows = await service.settle_at_once(conn, bus, providers, command, numbers, who.actor, with_commit)
        return TakenOut(payments=[PaymentOut.of(r) for r in rows])

    async def work() -> TakenOut:
        with payment_refusals():
            async with db.connection() as conn:
                rows = await service.take(conn, bus, providers, command, who.actor)
        return TakenOut(payments=[PaymentOut.of(r) for r in rows])

    if service.answers_at_once(providers, command):     # offline tenders: two transactions, the key in them
        return await once_in_two_transactions(request, db, who, key, opened, settled)
    return await once(request, db, who, key, work)


@router.get("/payments")
async def list_payments(station: GatedStation, who: Reader, db: Db,
                        shift_no: Annotated[str | None, Query(pattern=DOC_NO)] = None,
                        method: Method | None = None,
                        state: Annotated[str | None, Query(pattern="^(pending|succeeded|failed|cancelled)$")] = None,
                        order_no: Annotated[str | None, Query(pattern=DOC_NO)] = None,
                        cursor: Cursor = "", limit: Limit = 50) -> dict[str, Any]:
    async with db.connection() as conn:
        rows, total, last = await repository.search(conn, station, shift_no, method.value if method else None, state,
                                                    order_no, after(cursor, repository.NEWEST_FIRST), limit)
    return page([PaymentOut.of(r).model_dump(mode="json") for r in rows], total, repository.NEWEST_FIRST, last)


@router.get("/payments/{payment_no}", response_model=PaymentDetail)
async def payment(station: GatedStation, payment_no: PaymentNo, who: Reader, db: Db, request: Request) -> PaymentDetail:
    """The payment and its refunds; a pending payment is asked of its provider first (and settles if the
    customer has paid), approved refunds are carried out, refused ones closed."""
    with payment_refusals():
        async with db.connection() as conn:
            if TakePayment not in request.app.state.bus.commands:
                row = await _found(await repository.get(conn, station, payment_no), payment_no)
            else:
                row = await service.look(conn, request.app.state.bus, providers_of(request), station, payment_no,
                                         who.actor)
            refunds = await repository.refunds_of(conn, payment_no)
    return PaymentDetail(**PaymentOut.of(row).model_dump(), refunds=[RefundOut.of(r) for r in refunds])


async def _found(row: T | None, number: str) -> T:
    if row is None:
        raise PaymentNotFound(f"没有收款 {number} (no payment {number})")
    return row


@router.post("/payments/{payment_no}/cancel", response_model=PaymentOut)
async def cancel_payment(station: GatedStation, payment_no: PaymentNo, who: Taker, db: Db,
                         request: Request) -> PaymentOut:
    """The POS's countdown ran out: cancel at the provider; if the customer paid after all, it is succeeded."""
    bus = station_bus(request)
    with payment_refusals():
        async with db.connection() as conn:
            row = await service.cancel(conn, bus, providers_of(request), station, payment_no, who.actor)
    return PaymentOut.of(row)


@router.post("/payments/{payment_no}/refunds", response_model=RefundOut)
async def refund_payment(station: GatedStation, payment_no: PaymentNo, body: RefundBody, who: Refunder, db: Db,
                         key: IdempotencyKey, request: Request) -> JSONResponse:
    """Give money back, to the payment's own method; above the limit it waits for approval (state
    ``awaiting_approval``) and is carried out when the payment is next looked at after approval."""
    bus, providers = station_bus(request), providers_of(request)
    command = RequestRefund(station, payment_no, body.amount_fen, body.reason, who.username, datetime.now(UTC))

    async def work() -> RefundOut:
        with payment_refusals():
            async with db.connection() as conn:
                r = await service.refund(conn, bus, providers, command, who.actor)
        return RefundOut.of(r)

    return await once(request, db, who, key, work)


# --- receipts --------------------------------------------------------------------------------------

async def _receipt(conn: Any, station: str, order_no: str) -> receipts.Receipt:
    found = await receipts.load(conn, station, order_no)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"本站没有订单 {order_no} (no order {order_no} at {station})")
    return found


@router.get("/orders/{order_no}/receipt", response_class=HTMLResponse)
async def receipt_page(station: GatedStation, order_no: OrderNo, who: Reader, db: Db) -> HTMLResponse:
    """The receipt as a printable page (58 mm wide)."""
    async with db.connection() as conn:
        return HTMLResponse(receipts.page(await _receipt(conn, station, order_no)))


def printer_of(request: Request) -> str | None:
    """Where this station's receipts go: ``host:port`` or a file (setting FORECOURT_RECEIPT_PRINTER)."""
    found = getattr(request.app.state, "receipt_printer", None) or os.environ.get("FORECOURT_RECEIPT_PRINTER")
    return str(found) if found else None


@router.post("/orders/{order_no}/receipt/print", response_model=PrintedOut)
async def print_receipt(station: GatedStation, order_no: OrderNo, who: Taker, db: Db, request: Request) -> PrintedOut:
    """Print the receipt on the station's printer; a reprint is marked 重印 COPY and counted. The count
    commits only when the printer took the bytes."""
    target = printer_of(request)
    async with db.connection() as conn:
        receipt = await _receipt(conn, station, order_no)
        if target is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "本站未配置小票打印机 (no receipt printer is set up: "
                                                          "FORECOURT_RECEIPT_PRINTER)")
        async with conn.transaction():
            copy_no = await receipts.count_print(conn, order_no, datetime.now(UTC))
            data = receipts.escpos(receipt, copy_no)
            try:
                await receipts.send(target, data)
            except (OSError, TimeoutError) as exc:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "小票打印机无响应，请检查打印机后重试 "
                                    f"(the receipt printer did not answer: {exc})") from None
    return PrintedOut(order_no=order_no, copy_no=copy_no, bytes_sent=len(data))
