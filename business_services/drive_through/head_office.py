"""每次确认 and the members' notices at head office (docs/h5.md; docs/vision.md "Drive-through payment").

On head office's bus: ``drive_through.awaiting`` from a station → the confirmation kept (once per recognition)
and its notice (``awaiting``: 请确认支付, with the H5 link) queued; ``payment.captured`` of the terminal
``drive-through`` with a member → the notice ``paid`` (已从储值卡支付 X 元) queued, once per payment. Each notice
is one row of ``business.drive_through_pushes`` keyed (kind, reference) and sent by the job ``drive_through.push``
(``push.py``), so a redelivered event never sends a second message. ``decide``: the member's answer on the H5.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from business_services.drive_through import head_office_repository as repository
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.drive_through import DriveThroughAwaiting
from telemetry.contracts.events.envelope import CloudEvent
from telemetry.contracts.events.payments import PaymentCaptured

TERMINAL = "drive-through"            # service.TERMINAL (the station's drive-through payments)
NOT_YOURS = "这不是您的订单 (this is not your order)"
ANSWERED = "该订单已处理，无需再次确认 (this order was answered already)"
TOO_LATE = "确认时限已过，请到收银台付款 (the time to confirm has passed: pay at the cashier)"


class AnswerRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


async def awaiting(event: CloudEvent, uow: UnitOfWork) -> bool:
    waiting = DriveThroughAwaiting.from_event(event)
    if not await repository.keep(uow.conn, waiting):
        return False
    return await repository.add_push(uow.conn, "awaiting", waiting.recognition_id, waiting.member_no,
                                     waiting.station, waiting.amount_fen, waiting.card_no)


async def captured(event: CloudEvent, uow: UnitOfWork) -> bool:
    paid = PaymentCaptured.from_event(event)
    if paid.terminal != TERMINAL or paid.member_no is None:
        return False
    return await repository.add_push(uow.conn, "paid", paid.payment_no, paid.member_no, paid.station,
                                     paid.amount_fen, paid.card_no)


async def decide(conn: psycopg.AsyncConnection, member_no: str, recognition_id: str, confirmed: bool,
                 now: datetime) -> repository.Confirmation:
    """The member's answer: confirmed or declined, once; the same answer again returns it, another is refused
    (409), as is one past the window (410). ``conn`` in a transaction."""
    found = await repository.confirmation(conn, recognition_id, lock=True)
    if found is None or found.member_no != member_no:
        raise AnswerRefused(NOT_YOURS, 404)
    wanted = "confirmed" if confirmed else "declined"
    if found.state == wanted:
        return found
    if found.state != "awaiting":
        raise AnswerRefused(ANSWERED, 409)
    if now >= found.expires_at:
        raise AnswerRefused(TOO_LATE, 410)
    await repository.decide(conn, recognition_id, wanted, now)
    return await repository.confirmation(conn, recognition_id) or found


EVENT_HANDLERS: dict[str, list[Handler]] = {DriveThroughAwaiting.TYPE: [awaiting], PaymentCaptured.TYPE: [captured]}
COMMAND_HANDLERS: dict[type, Handler] = {}
