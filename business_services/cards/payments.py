"""Paying with a stored-value card, and settling what the stations report (docs/cards.md "Payments").

Online (``PayByCard``, from ``POST /api/v1/card-payments``): the card's row is locked, its status and
restrictions checked (``model.refusal``), then ``card_debit_entry`` is posted; the ledger's CHECK refuses an
overdraft (two payments at once included) and that becomes ``余额不足``. The station's ``payment.captured``
for the same payment then posts nothing: the entry's key is the same. Offline (the station took the card from
its member list while head office was away): ``payment.captured`` with ``offline`` posts the debit now; what the
card cannot cover goes to ``CARD_OVERDRAFT`` and the card is frozen until a recharge repays it. Refunds go back
to the card the payment came from (``card_credit_entry``), by the refund route or the ``payment.refunded`` event,
whichever comes first; the other posts nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from business_services.audit.model import AuditEntry
from business_services.cards import repository, views
from business_services.cards.changes import listed, locked, repay_overdraft
from business_services.cards.commands import PayByCard, RefundCardPayment
from business_services.cards.model import (
    INSUFFICIENT,
    CardKind,
    CardNotFound,
    CardRefused,
    CardState,
    Limits,
    PaymentAsk,
    Restrictions,
    Status,
    mask_card_no,
    refusal,
    settle_offline,
)
from business_services.ledger import repository as ledger
from business_services.ledger.model import (
    card_credit_entry,
    card_debit_entry,
    card_overdraft_debit_entry,
)
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.payments import Method, PaymentCaptured, PaymentRefunded

log = logging.getLogger(__name__)


def state_of(row: dict[str, Any]) -> CardState:
    return CardState(row["card_no"], CardKind(row["kind"]), Status(row["status"]),
                     Restrictions(tuple(row["plates"]), tuple(row["grades"]), tuple(row["stations"]),
                                  Limits(row["daily_limit_fen"], row["litres_per_fill"], row["fills_per_day"])))


async def _answer(uow: UnitOfWork, card_no: str, member_no: str | None) -> dict[str, Any]:
    return {"state": "succeeded", "card_no": card_no, "member_no": member_no,
            "balance_fen": await views.balance(uow.conn, card_no)}


async def pay_by_card(command: PayByCard, uow: UnitOfWork) -> dict[str, Any]:
    """{state, card_no, member_no, balance_fen}; ``CardRefused`` says why not. The same payment again answers
    as the first time and posts nothing."""
    done = await repository.payment(uow.conn, command.station, command.payment_no)
    if done is not None:
        if (done["card_no"], done["amount_fen"]) != (command.card_no, command.amount_fen):
            raise CardRefused(f"支付单号 {command.payment_no} 已用于另一笔卡支付 (that payment number is used)")
        row = await repository.card(uow.conn, command.card_no)
        return await _answer(uow, command.card_no, row["member_no"] if row else None)
    row = await locked(uow.conn, command.card_no)
    if command.member_no is not None and row["member_no"] not in (None, command.member_no):
        raise CardRefused("此卡不属于该会员 (the card is another member's)")
    ask = PaymentAsk(command.station, command.amount_fen, command.grade, command.volume_l, command.plate)
    why = refusal(state_of(row), ask, await repository.usage_today(uow.conn, command.card_no, command.at))
    if why is not None:
        raise CardRefused(why)
    await repository.insert_payment(uow.conn, command, offline=False)
    try:
        await ledger.post_within_balance(uow.conn, card_debit_entry(command.station, command.payment_no,
                                                                    command.card_no, command.amount_fen, command.at))
    except ledger.Overdrawn:
        raise CardRefused(INSUFFICIENT) from None     # the unit of work rolls the payment row back
    await listed(uow, command.card_no)
    return await _answer(uow, command.card_no, row["member_no"])


async def _credit(uow: UnitOfWork, station: str, payment_no: str, refund_no: str, card_no: str, amount_fen: int,
                  command_at: datetime) -> bool:
    """Record a refund and credit the card (False: recorded before, nothing done); debt is repaid first."""
    row = await locked(uow.conn, card_no)
    if not await repository.insert_refund(uow.conn, station, refund_no, payment_no, card_no, amount_fen, command_at):
        return False
    await ledger.post(uow.conn, card_credit_entry(station, refund_no, card_no, amount_fen, command_at))
    await repay_overdraft(uow, row, f"{station}:{refund_no}", command_at)
    await listed(uow, card_no)
    return True


async def refund_card_payment(command: RefundCardPayment, uow: UnitOfWork) -> dict[str, Any]:
    """{state, card_no, balance_fen}: part or all of a card payment back to its card, never more than is left."""
    paid = await repository.payment(uow.conn, command.station, command.payment_no, lock=True)
    if paid is None:
        raise CardNotFound(f"{command.station}/{command.payment_no}")
    done = await repository.refund(uow.conn, command.station, command.refund_no)
    if done is None:
        left = paid["amount_fen"] - paid["refunded_fen"]
        if command.amount_fen > left:
            raise CardRefused(f"退款金额超过可退金额 {left / 100:.2f} 元 (more than is left to refund)")
        await _credit(uow, command.station, command.payment_no, command.refund_no, paid["card_no"],
                      command.amount_fen, command.at)
    elif (done["payment_no"], done["amount_fen"]) != (command.payment_no, command.amount_fen):
        raise CardRefused(f"退款单号 {command.refund_no} 已用于另一笔退款 (that refund number is used)")
    return {"state": "succeeded", "card_no": paid["card_no"],
            "balance_fen": await views.balance(uow.conn, paid["card_no"])}


# ---- the stations' events ----------------------------------------------------------------------------------

async def payment_captured(event: CloudEvent, uow: UnitOfWork) -> None:
    """Settle a stored-value payment: nothing when it was authorised online, else the debit now (an overdraft
    and a freeze for what the card cannot cover)."""
    captured = PaymentCaptured.from_event(event)
    if captured.method is not Method.STORED_VALUE or captured.card_no is None:
        return
    if await repository.payment(uow.conn, captured.station, captured.payment_no) is not None:
        return                                           # authorised online (or settled before): posted then
    row = await repository.card(uow.conn, captured.card_no, lock=True)
    if row is None:
        log.warning("stored-value payment %s/%s names no card of ours (%s): left in the station's clearing account",
                    captured.station, captured.payment_no, mask_card_no(captured.card_no))
        return
    settled = settle_offline(await views.balance(uow.conn, captured.card_no), captured.amount_fen)
    command = PayByCard(captured.station, captured.payment_no, captured.card_no, captured.amount_fen,
                        captured.captured_at, captured.member_no)
    await repository.insert_payment(uow.conn, command, offline=True, overdraft_fen=settled.shortfall_fen)
    await ledger.post(uow.conn, card_overdraft_debit_entry(captured.station, captured.payment_no, captured.card_no,
                                                           captured.amount_fen, settled.covered_fen,
                                                           captured.captured_at))
    if settled.shortfall_fen:
        changes: dict[str, Any] = {"overdraft_fen": row["overdraft_fen"] + settled.shortfall_fen}
        if row["status"] == Status.ACTIVE:
            changes |= {"status": Status.FROZEN.value, "frozen_for": "overdraft"}
        await repository.update_card(uow.conn, captured.card_no, **changes)
        await uow.audit(AuditEntry("card.overdraft", f"card:{captured.card_no}", row["station"],
                                   {"status": row["status"], "overdraft_fen": row["overdraft_fen"]},
                                   {"status": changes.get("status", row["status"]),
                                    "overdraft_fen": changes["overdraft_fen"],
                                    "payment": f"{captured.station}/{captured.payment_no}"}))
    await listed(uow, captured.card_no)


async def payment_refunded(event: CloudEvent, uow: UnitOfWork) -> None:
    """A refund of a stored-value payment goes back to the card the payment came from (once)."""
    refunded = PaymentRefunded.from_event(event)
    if refunded.method is not Method.STORED_VALUE:
        return
    paid = await repository.payment(uow.conn, refunded.station, refunded.payment_no)
    card_no = paid["card_no"] if paid is not None else refunded.card_no
    if card_no is None or await repository.card(uow.conn, card_no) is None:
        log.warning("stored-value refund %s/%s names no card of ours: left in the station's clearing account",
                    refunded.station, refunded.refund_no)
        return
    await _credit(uow, refunded.station, refunded.payment_no, refunded.refund_no, card_no, refunded.amount_fen,
                  refunded.refunded_at)


EVENT_HANDLERS: dict[str, list[Handler]] = {
    PaymentCaptured.TYPE: [payment_captured],
    PaymentRefunded.TYPE: [payment_refunded],
}
COMMAND_HANDLERS: dict[type, Handler] = {PayByCard: pay_by_card, RefundCardPayment: refund_card_payment}
