"""Fleet credit (车队挂账) as a ``PaymentProvider``: the order of a fuelling authorised for a fleet card is paid
against that authorisation (docs/fleets.md "At the station").

The tender names the card and the authorisation (``card_no``, ``auth_no``). The payment is named on the
authorisation before head office is asked (``station_fleets.repository.claim``), so a retry or a ``query`` after
a crash asks again with the same key. An authorisation head office made is captured there
(``POST /api/v1/fleet-payments``, ``FleetCapture``, Idempotency-Key ``fleet-payment:<station>:<payment_no>``);
one the station made alone, or any whose capture cannot reach head office (the fuel is in the tank: the sale
stands), is taken here and reported by ``payment.captured`` with ``offline: true`` and ``auth_no``; head office
records it once by station and payment number. An amount over the preset is refused (the pump stops at it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink
from business_services.orders import views as orders
from business_services.payments import repository as payments
from business_services.payments.providers import (
    ChargeRequest,
    ChargeResult,
    ChargeState,
    RefundRequest,
    RefundResult,
)
from business_services.station_fleets import repository
from business_services.station_fleets.model import Authorisation
from telemetry.contracts.events.payments import Method
from telemetry.contracts.fleets import FleetCapture

NO_AUTH = "车队挂账请先在 车队加油 授权，再用该授权付款 (authorise the fleet card first, then pay with that " \
          "authorisation)"
REFUND_AT_HEAD_OFFICE = "车队挂账的退款由总部车队结算办理 (fleet refunds are made by head office's fleet settlement)"


class FleetCreditProvider:
    method = Method.FLEET_CREDIT
    safe_offline = True          # within the limits the station decided alone

    def __init__(self, link: HeadOfficeLink | None, database_url: str) -> None:
        self.link, self.database_url = link, database_url

    def unavailable(self) -> str | None:
        return None

    def _online(self) -> bool:
        return self.link is not None and not self.link.down

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        if not request.auth_no or not request.card_no:
            return ChargeResult(ChargeState.FAILED, message=NO_AUTH)
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            found = await repository.get(conn, request.auth_no)
            if found is None or found.card_no != request.card_no or found.station != request.station:
                return ChargeResult(ChargeState.FAILED, message=NO_AUTH)
            if found.state == "captured":
                return _result(found) if found.payment_no == request.payment_no else ChargeResult(
                    ChargeState.FAILED, message=f"授权 {found.auth_no} 已付款 (the authorisation is paid already)")
            if request.amount_fen > found.preset_fen:
                return ChargeResult(ChargeState.FAILED, message=f"金额超过授权的 {found.preset_fen / 100:.2f} 元 "
                                                                f"(above the authorised preset)")
            claimed = await repository.claim(conn, request.auth_no, request.payment_no)
            if claimed is None:
                return ChargeResult(ChargeState.FAILED, message=f"授权 {found.auth_no} 已失效，请重新授权 "
                                                                f"(the authorisation is no longer open)")
            return await self._capture(conn, claimed, request.amount_fen)

    async def _capture(self, conn: psycopg.AsyncConnection, a: Authorisation, amount_fen: int) -> ChargeResult:
        payment_no = a.payment_no or ""
        if not a.offline and self._online() and self.link is not None:
            try:
                capture = await _capture_of(conn, a, payment_no, amount_fen)
                status, data = await self.link.call("POST", "/api/v1/fleet-payments", capture.model_dump(mode="json"),
                                                    idempotency_key=f"fleet-payment:{a.station}:{payment_no}")
            except HeadOfficeDown:
                status, data = 503, {}
            if 200 <= status < 300:
                await repository.captured(conn, a.auth_no, payment_no, amount_fen, offline=False)
                return _result(await repository.found(conn, a.auth_no))
            if status < 500:
                return ChargeResult(ChargeState.FAILED, message=str(
                    data.get("detail") or f"总部拒绝车队挂账 (head office answered {status})"))
        await repository.captured(conn, a.auth_no, payment_no, amount_fen, offline=True)   # reported when it returns
        return _result(await repository.found(conn, a.auth_no))

    async def query(self, payment_no: str) -> ChargeResult:
        """After a crash: a capture head office was asked about is asked again with the same key."""
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            found = await repository.by_payment(conn, payment_no)
            if found is None:
                return ChargeResult(ChargeState.FAILED, message="收款未发出 (the charge was never sent)")
            if found.state == "reserved":
                paid = await payments.get(conn, found.station, payment_no)
                return await self._capture(conn, found, paid.amount_fen if paid else found.preset_fen)
            return _result(found)

    async def cancel(self, payment_no: str) -> ChargeResult:
        return await self.query(payment_no)          # never left waiting for the customer

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(ChargeState.FAILED, message=REFUND_AT_HEAD_OFFICE)


async def _capture_of(conn: psycopg.AsyncConnection, a: Authorisation, payment_no: str,
                      amount_fen: int) -> FleetCapture:
    """What head office records: the orders the payment settles, their litres, the grade and plate."""
    paid = await payments.get(conn, a.station, payment_no)
    order_nos = tuple(o for o, _, _ in (paid.allocations if paid else ()))
    found = [await orders.detail(conn, a.station, o) for o in order_nos]
    litres = sum(Decimal(o["volume_l"] or 0) for o in found if o is not None)
    return FleetCapture(station=a.station, payment_no=payment_no, auth_no=a.auth_no, card_no=a.card_no or "",
                        amount_fen=amount_fen, order_nos=order_nos, litres_ml=int(litres * 1000), grade=a.grade,
                        plate=a.plate, paid_at=datetime.now(UTC), offline=False)



def _result(a: Authorisation) -> ChargeResult:
    if a.state != "captured":
        return ChargeResult(ChargeState.FAILED, message=NO_AUTH)
    return ChargeResult(ChargeState.SUCCEEDED, card_no=a.card_no, auth_no=a.auth_no, offline=a.captured_offline,
                        message="离线挂账，总部恢复后入账 (taken offline)" if a.captured_offline else "")
