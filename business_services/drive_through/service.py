"""Paying what drive-through made due, and the cashier's undo (docs/vision.md "Drive-through payment").

``pay_due``: each due order taken by the member's method through the payments context (``payments.service.take``:
opened, charged with no transaction open, settled), then the row closed ``paid``, or ``cashier`` with the reason
when the method refused. A fleet vehicle card's order is first authorised for what it owes (``fleet.authorised``:
the fleet path, no PIN, every limit) and paid with 车队挂账 against that authorisation. Exactly once: an order
already paid owes nothing and is only closed; an order whose payment is still pending (a crash between the charge
and its settle: ``payments.service.reconcile`` settles it) is left for the next round; the payments context refuses
a second reservation of the same order. ``undo``: the cashier's reversal of a wrong match; a payment already taken
is refunded through the refund path.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import psycopg

from business_services.audit.model import Actor, AuditEntry
from business_services.drive_through import confirmations, fleet, model, repository
from business_services.messagebus import MessageBus
from business_services.payments import repository as payments
from business_services.payments import service as paying
from business_services.payments.handlers import RequestRefund
from business_services.payments.model import PaymentRuleError, RefundState, TakePayment, Tender
from business_services.payments.registry import Providers, head_office_link
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.payments import Method

log = logging.getLogger(__name__)
TERMINAL = "drive-through"


class DriveThroughError(LookupError):
    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.message, self.status = message, status


async def _owed(conn: psycopg.AsyncConnection, order_no: str) -> tuple[int, int]:
    """(what the order still owes, what pending payments hold of it)."""
    cur = await conn.execute("SELECT amount_fen - paid_fen - coalesce(written_off_fen, 0) FROM business.orders "
                             "WHERE order_no = %s", (order_no,))
    row = await cur.fetchone()
    held = (await payments.reserved(conn, [order_no])).get(order_no, 0)
    return (int(row[0]) if row else 0), int(held)


async def pay_due(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, station: str | None = None,
                  at: datetime | None = None) -> int:
    """Pay each due order; how many were paid now. ``conn`` in autocommit."""
    actor, paid = Actor.system(TERMINAL), 0
    for a in await repository.due(conn, station):
        now = at or datetime.now(UTC)
        owed, held = await _owed(conn, a.order_no or "")
        if held:
            continue                                  # a payment of it is in progress: settled by reconcile
        if owed <= 0:                                 # paid: by this loop before a crash, or by the cashier
            await repository.close(conn, a.recognition_id, "paid", "订单已结清 (the order was paid)", now,
                                   await repository.paid_by(conn, a.order_no or "", TERMINAL))
            continue
        method = model.PAYS_ITSELF.get(a.method)
        if method is None or (method is Method.FLEET_CREDIT and a.member_no is not None):   # a member's: not theirs
            await repository.close(conn, a.recognition_id, "cashier", model.NOT_YET, now)
            continue
        try:
            auth_no = await fleet.authorised(conn, head_office_link(providers), a, owed) \
                if method is Method.FLEET_CREDIT else None
        except fleet.FleetPlateRefused as refused:
            await repository.close(conn, a.recognition_id, "cashier", refused.message[:200], now)
            continue
        command = TakePayment(a.station, TERMINAL, TERMINAL, (a.order_no or "",),
                              (Tender(method, owed, card_no=a.card_no, member_no=a.member_no, auth_no=auth_no),), now)
        try:
            rows = await paying.take(conn, bus, providers, command, actor)
        except PaymentRuleError as refused:
            await repository.close(conn, a.recognition_id, "cashier", refused.message[:200], now)
            continue
        row = rows[0]
        if row.state == "succeeded":
            paid += await repository.close(conn, a.recognition_id, "paid", "", now, row.payment_no)
        elif row.state != "pending":
            await repository.close(conn, a.recognition_id, "cashier", (row.message or row.state)[:200], now,
                                   row.payment_no)
    return paid


async def pay_forever(database_url: str, bus: MessageBus, providers: Providers, station: str,
                      every_s: float = 2.0) -> None:
    """The station server's loop: lapsed attachments closed, due orders paid, every ``every_s`` until cancelled
    (a failed round is logged and tried again: what it left is still due; the loop never takes the station's
    business process down with it)."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                await repository.expire(conn, datetime.now(UTC))
                await confirmations.settle(conn, head_office_link(providers), station, datetime.now(UTC))   # 每次确认
                await pay_due(conn, bus, providers, station)
        except (psycopg.Error, OSError) as exc:
            log.warning("drive-through payments paused: %r", exc)
        except Exception:        # a bug or an answer of a shape not foreseen: logged, and the station sells on
            log.exception("drive-through payments: a round failed; what it left is still due and tried again")
        await asyncio.sleep(every_s)


async def undo(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, actor: Actor, station: str,
               recognition_id: str, reason: str) -> repository.Attachment:
    """The cashier undoes a wrong match: the attachment ends; its payment, if taken, is refunded in full."""
    if not reason.strip():
        raise DriveThroughError("请填写撤销原因 (give the reason for the undo)", 422)
    now = datetime.now(UTC)
    async with UnitOfWork(conn, actor) as uow:
        found = await repository.get(uow.conn, station, recognition_id, lock=True)
        if found is None:
            raise DriveThroughError("没有这条无感支付关联 (no such drive-through attachment)")
        if found.state != "undone":
            await repository.undo(uow.conn, recognition_id, reason.strip()[:200], now)
            await uow.audit(AuditEntry("drive_through.undo", f"drive-through:{recognition_id}", station,
                                       {"state": found.state, "member_no": found.member_no,
                                        "order_no": found.order_no}, {"state": "undone", "reason": reason.strip()}))
    if found.payment_no is not None:      # asked again (a retry after a refusal) until its refund is asked for
        payment = await payments.get(conn, station, found.payment_no)
        asked = [r for r in await payments.refunds_of(conn, found.payment_no)
                 if r.state not in (RefundState.FAILED, RefundState.REJECTED)]
        if payment is not None and payment.state == "succeeded" and not asked:
            await paying.refund(conn, bus, providers, RequestRefund(
                station, found.payment_no, payment.amount_fen - payment.refunded_fen,
                f"无感支付撤销：{reason.strip()}"[:200], actor.name, now), actor)
    return await repository.get(conn, station, recognition_id) or found
