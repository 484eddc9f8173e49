"""Stored-value cards (储值卡) as a ``PaymentProvider``: online through head office, offline within limits.

While head office answers, a charge is ``POST /api/v1/card-payments`` on the station server's ``HeadOfficeLink``
with ``Idempotency-Key: card-payment:{station}:{payment_no}`` (head office debits the card at once, key
``card.debited:{station}:{payment_no}``). While it is unreachable, the card is looked up in the station's member
list and the payment is taken only within the card's ``offline_limit_fen`` per payment and ``offline_daily_fen``
per day at this station (``station_members.model.offline_refusal``; the day's offline payments are counted under
the card's row lock, so two terminals cannot both pass the limit); the capture says ``offline: true`` and head
office settles it from ``payment.captured`` with the same key (posted once, whether or not an online attempt got
through before the link dropped). Every attempt is written before head office is asked
(``business.station_card_payments``), so ``query`` after a crash asks again with the same key. The orders' grade,
litres, plate and member go with it, so the card's restrictions hold online (head office) and offline (the list).
Refunds go back to the card through head office (``…/card-payments/{station}/{payment_no}/refunds``); while it is
unreachable a refund stays pending and is carried out when the payment is next looked at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
from business_services.station_members import repository
from business_services.station_members.model import business_day, offline_refusal
from telemetry.contracts.events.payments import Method

ASK_LATER = "总部连接中断，收款结果待总部恢复后确认 (head office is unreachable: the answer is asked again later)"
NO_CARD = "请刷卡或输入储值卡号 (give the card's number)"
REFUND_LATER = "总部连接中断，退款将在总部恢复后退回储值卡 (head office is unreachable: the refund goes back to " \
               "the card when it returns)"


def _key(station: str, payment_no: str) -> str:
    return f"card-payment:{station}:{payment_no}"


async def _sale(conn: psycopg.AsyncConnection, station: str, payment_no: str) -> dict[str, Any]:
    """What the payment buys, for the card's restrictions (grade, litres, plate) and its member: the grade when
    every order has the same one, the litres summed, the first plate and member named on the orders."""
    paid = await payments.get(conn, station, payment_no)
    found = [await orders.detail(conn, station, order_no) for order_no, _, _ in (paid.allocations if paid else ())]
    rows = [o for o in found if o is not None]
    grades = {o["grade"] for o in rows}
    sale: dict[str, Any] = {}
    if len(grades) == 1 and None not in grades:
        sale["grade"] = int(next(iter(grades)))
    if rows and all(o["volume_l"] is not None for o in rows):
        sale["volume_l"] = str(sum(Decimal(o["volume_l"]) for o in rows))
    for name in ("plate", "member_no"):
        named = next((o[name] for o in rows if o.get(name)), None)
        if named:
            sale[name] = named
    return sale


class StoredValueProvider:
    method = Method.STORED_VALUE
    safe_offline = True          # within the card's offline limits (offline_refusal)

    def __init__(self, link: HeadOfficeLink | None, database_url: str) -> None:
        self.link, self.database_url = link, database_url

    def unavailable(self) -> str | None:
        return None              # offline too, within limits: each charge says why when it cannot

    def _online(self) -> bool:
        return self.link is not None and not self.link.down

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        if not request.card_no:
            return ChargeResult(ChargeState.FAILED, message=NO_CARD)
        now = datetime.now(UTC)
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            asked = await repository.ask(conn, repository.CardPayment(
                request.payment_no, request.station, self.method.value, request.card_no, None, request.amount_fen,
                None, "asked", False, None, "", now), business_day(now))
            if asked.state != "asked":
                return _charge_result(asked)
            if self._online():
                try:
                    return await self._ask_head_office(conn, asked)
                except HeadOfficeDown:
                    pass                 # taken offline below, or refused: head office posts the key once
            return await self._offline(conn, asked)

    async def _ask_head_office(self, conn: psycopg.AsyncConnection, p: repository.CardPayment) -> ChargeResult:
        if self.link is None:
            raise HeadOfficeDown(answered_late=False)
        body = {"station": p.station, "payment_no": p.payment_no, "card_no": p.card_no, "amount_fen": p.amount_fen,
                **await _sale(conn, p.station, p.payment_no)}
        status, data = await self.link.call("POST", "/api/v1/card-payments", body,
                                            idempotency_key=_key(p.station, p.payment_no))
        if status == 200 and data.get("state") == "succeeded":
            member = data.get("member_no")
            balance = data.get("balance_fen")
            await repository.answered(conn, p.payment_no, "taken", member, None if balance is None else int(balance),
                                      "")
        elif status >= 500:
            raise HeadOfficeDown(answered_late=False)          # not taken there (its transaction rolled back)
        else:
            why = str(data.get("detail") or f"总部拒绝储值卡收款 (head office answered {status})")
            await repository.answered(conn, p.payment_no, "refused", None, None, why)
        return _charge_result(await _found(conn, p.payment_no))

    async def _offline(self, conn: psycopg.AsyncConnection, p: repository.CardPayment) -> ChargeResult:
        async with conn.transaction():
            card = await repository.card(conn, p.card_no or "", lock=True)
            spent = await repository.offline_spent(conn, p.station, p.card_no or "", business_day(p.at))
            sale = await _sale(conn, p.station, p.payment_no)
            refusal = offline_refusal(card, p.amount_fen, spent, sale.get("plate"), sale.get("grade"))
            if refusal is not None or card is None:
                await repository.answered(conn, p.payment_no, "refused", None, None, refusal or "")
            else:
                await conn.execute(
                    """UPDATE business.station_card_payments SET state = 'taken', offline = true, member_no = %s,
                           balance_fen = %s WHERE payment_no = %s AND state = 'asked'""",
                    (card.member_no, max(card.balance_fen - spent - p.amount_fen, 0), p.payment_no))
        return _charge_result(await _found(conn, p.payment_no))

    async def query(self, payment_no: str) -> ChargeResult:
        """After a crash: an attempt head office was asked about is asked again with the same key."""
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            found = await repository.card_payment(conn, payment_no)
            if found is None:
                return ChargeResult(ChargeState.FAILED, message="收款未发出 (the charge was never sent)")
            if found.state == "asked" and self._online():
                try:
                    return await self._ask_head_office(conn, found)
                except HeadOfficeDown:
                    return ChargeResult(ChargeState.PENDING, message=ASK_LATER)
            return _charge_result(found)

    async def cancel(self, payment_no: str) -> ChargeResult:
        return await self.query(payment_no)           # a card payment is never left waiting for the customer

    async def refund(self, request: RefundRequest) -> RefundResult:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            found = await repository.card_payment(conn, request.payment_no)
        if found is None or found.state != "taken":
            return RefundResult(ChargeState.FAILED, message="没有这笔储值卡收款 (no such stored-value payment)")
        if not self._online() or self.link is None:
            return RefundResult(ChargeState.PENDING, message=REFUND_LATER)
        try:
            status, data = await self.link.call(
                "POST", f"/api/v1/card-payments/{found.station}/{found.payment_no}/refunds",
                {"refund_no": request.refund_no, "amount_fen": request.amount_fen},
                idempotency_key=f"card-refund:{found.station}:{request.refund_no}")
        except HeadOfficeDown:
            return RefundResult(ChargeState.PENDING, message=REFUND_LATER)
        if status == 200:
            return RefundResult(ChargeState.SUCCEEDED, card_no=found.card_no, member_no=found.member_no)
        state = ChargeState.PENDING if status >= 500 else ChargeState.FAILED
        return RefundResult(state, message=str(data.get("detail") or f"总部拒绝退款 (head office answered {status})"))


async def _found(conn: psycopg.AsyncConnection, payment_no: str) -> repository.CardPayment:
    found = await repository.card_payment(conn, payment_no)
    if found is None:
        raise LookupError(f"card payment {payment_no} vanished")
    return found


def _charge_result(p: repository.CardPayment) -> ChargeResult:
    if p.state == "taken":
        return ChargeResult(ChargeState.SUCCEEDED, card_no=p.card_no, member_no=p.member_no, offline=p.offline,
                            points_spent=p.points_spent,
                            message="离线收款，总部恢复后入账 (taken offline)" if p.offline else "")
    if p.state == "refused":
        return ChargeResult(ChargeState.FAILED, message=p.message)
    return ChargeResult(ChargeState.PENDING, message="正在向总部确认 (asking head office)")
