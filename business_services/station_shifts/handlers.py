"""Handlers of head office's shift copies: the station's shift events, its payments and refunds per shift,
and the pull that reconciles them (``reconcile_all``, run periodically; ``ReconcileShift`` for one, now).

Every event handler is idempotent on its own key as well as by event id: (station, shift_no) for a copy,
(station, kind, document number) for a payment or refund, so a duplicated or reordered delivery changes
nothing and loses nothing. docs/reconciliation.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from business_services.audit.model import Actor, AuditEntry
from business_services.messagebus import Handler
from business_services.station_shifts import repository, views
from business_services.station_shifts.model import (
    DEFAULT_MISSING_CLOSE_AFTER,
    Evaluation,
    ReconcileShift,
    ShiftCopyNotFound,
    Verdict,
    changed,
    evaluate,
    is_new_difference,
    reported_takings,
)
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.payments import PaymentCaptured, PaymentRefunded
from telemetry.contracts.events.shifts import ShiftClosed, ShiftOpened


async def copy_opened(event: CloudEvent, uow: UnitOfWork) -> bool:
    return await repository.record_opened(uow.conn, ShiftOpened.from_event(event))


async def copy_closed(event: CloudEvent, uow: UnitOfWork) -> bool:
    return await repository.record_closed(uow.conn, ShiftClosed.from_event(event))


async def count_payment(event: CloudEvent, uow: UnitOfWork) -> bool:
    p = PaymentCaptured.from_event(event)
    return await _count(uow, p.station, "payment", p.payment_no, p.shift_no, p.method, p.amount_fen, p.captured_at)


async def count_refund(event: CloudEvent, uow: UnitOfWork) -> bool:
    r = PaymentRefunded.from_event(event)
    return await _count(uow, r.station, "refund", r.refund_no, r.shift_no, r.method, -r.amount_fen, r.refunded_at)


async def _count(uow: UnitOfWork, station: str, kind: str, document_no: str, shift_no: str, method: str,
                 net_fen: int, occurred_at: datetime) -> bool:
    added = await repository.record_document(uow.conn, station=station, kind=kind, document_no=document_no,
                                             shift_no=shift_no, method=method, net_fen=net_fen,
                                             occurred_at=occurred_at)
    if added:
        await repository.reopen_if_matched(uow.conn, station, shift_no, datetime.now(UTC))
    return added


async def reconcile_shift(command: ReconcileShift, uow: UnitOfWork) -> Evaluation:
    """Evaluate one shift and record the verdict with its time; a new or changed difference is audited."""
    row = await repository.lock(uow.conn, command.station, command.shift_no)
    if row is None:
        raise ShiftCopyNotFound(f"总部没有班次 {command.shift_no} 的记录 (no copy of this shift at head office)")
    received = await views.received(uow.conn, command.station, command.shift_no)
    after = evaluate(opened_at=row["opened_at"], closed=row["closed_at"] is not None,
                     reported=reported_takings(row["takings"]) if row["takings"] is not None else None,
                     received={method: r["net_fen"] for method, r in received.items()},
                     now=command.now, missing_close_after=command.missing_close_after)
    before = Evaluation.from_record(row["status"], row["gaps"])
    if is_new_difference(before, after):
        await uow.audit(AuditEntry("shift.difference", f"{command.station}/{command.shift_no}", command.station,
                                   {"status": before.verdict.value, "gaps": before.gaps_json()},
                                   {"status": after.verdict.value, "gaps": after.gaps_json()}))
    await repository.record_verdict(uow.conn, command.station, command.shift_no, after, command.now,
                                    changed=changed(before, after))
    return after


async def reconcile_all(conn: psycopg.AsyncConnection, now: datetime,
                        missing_close_after: timedelta = DEFAULT_MISSING_CLOSE_AFTER) -> dict[Verdict, int]:
    """The pull: evaluate every shift whose verdict may still change, each in its own transaction (one
    shift's failure does not undo the others'). ``conn`` in autocommit. How many ended in each verdict."""
    counts: dict[Verdict, int] = {}
    for station, shift_no in await repository.open_questions(conn):
        async with UnitOfWork(conn, Actor.system("reconcile")) as uow:
            try:
                evaluation = await reconcile_shift(ReconcileShift(station, shift_no, now, missing_close_after), uow)
            except ShiftCopyNotFound:
                continue
        counts[evaluation.verdict] = counts.get(evaluation.verdict, 0) + 1
    return counts


EVENT_HANDLERS: dict[str, list[Handler]] = {
    ShiftOpened.TYPE: [copy_opened],
    ShiftClosed.TYPE: [copy_closed],
    PaymentCaptured.TYPE: [count_payment],
    PaymentRefunded.TYPE: [count_refund],
}
COMMAND_HANDLERS: dict[type, Handler] = {ReconcileShift: reconcile_shift}
