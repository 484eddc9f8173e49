"""Handlers of the ledger (head office): each station payment and refund posts one entry, once.

The station reports its payments (``payment.captured``) and refunds (``payment.refunded``) through its
outbox; head office records them as they come (``model.payment_entry`` / ``refund_entry``): a repeat has
the same idempotency key and posts nothing.
"""

from __future__ import annotations

from business_services.ledger import repository
from business_services.ledger.model import payment_entry, refund_entry
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.payments import PaymentCaptured, PaymentRefunded


async def post_payment(event: CloudEvent, uow: UnitOfWork) -> int | None:
    return await repository.post(uow.conn, payment_entry(PaymentCaptured.from_event(event)))


async def post_refund(event: CloudEvent, uow: UnitOfWork) -> int | None:
    return await repository.post(uow.conn, refund_entry(PaymentRefunded.from_event(event)))


EVENT_HANDLERS: dict[str, list[Handler]] = {
    PaymentCaptured.TYPE: [post_payment],
    PaymentRefunded.TYPE: [post_refund],
}
COMMAND_HANDLERS: dict[type, Handler] = {}
