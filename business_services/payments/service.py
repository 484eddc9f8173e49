"""The payment flow around the provider call, which must never sit inside a transaction:

    (a) TakePayment    one unit of work: orders locked, shift held, payments written pending (reserving)
    (b) provider.charge / query / cancel / refund    no transaction open
    (c) SettlePayment  one unit of work: pending → succeeded (payment.captured) / failed / cancelled

A crash between (a) and (c) leaves a pending payment; ``reconcile`` (at start, and on every look at a
payment) asks its provider and settles it, so money taken is never lost, and a second settle of the same
payment changes nothing. ``conn`` is an autocommit connection; ``bus`` the station server's.

Tenders whose provider answers at once without the network (cash, bank card voucher, other: ``offline.py``)
take the same steps in two transactions on one connection that the caller opens: (a) in the first with the
request's idempotency key (``open_at_once``), the charge and (c) in the second with the stored answer
(``settle_at_once``): two transactions per payment instead of four. Step (a) stays apart from (c) because
it takes the day's payment counter (``numbers.py``), which every payment at the station waits for: it is
held only from the number to the commit of (a).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime

import psycopg

from business_services.audit.model import Actor
from business_services.messagebus import MessageBus
from business_services.payments import repository
from business_services.payments.handlers import RequestRefund, SettlePayment, SettleRefund, close_refused
from business_services.payments.model import PaymentNotFound, PaymentRuleError, TakePayment, Tender
from business_services.payments.providers import (
    ChargeRequest,
    ChargeResult,
    ChargeState,
    PaymentProvider,
    RefundRequest,
)
from business_services.payments.registry import Providers
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.payments import Method

log = logging.getLogger(__name__)
UNKNOWN = "收款结果未知，正在向支付渠道查询 (the provider's answer was lost; it is being asked again)"


def _providers(providers: Providers, command: TakePayment) -> list[PaymentProvider]:
    found = []
    for tender in command.tenders:
        provider, reason = providers.get(tender.method), providers.unavailable(tender.method)
        if provider is None or reason is not None:
            raise PaymentRuleError(f"暂不能用 {tender.method.value} 收款：{reason}")
        found.append(provider)
    return found


def answers_at_once(providers: Providers, command: TakePayment) -> bool:
    """Whether every tender's provider answers at once without the network (``answers_at_once``: the offline
    tenders), so that its steps need no wait between them (``open_at_once``, ``settle_at_once``)."""
    return all(getattr(providers.get(t.method), "answers_at_once", False) for t in command.tenders)


async def open_at_once(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, command: TakePayment,
                       actor: Actor) -> list[str]:
    """Step (a) for tenders that answer at once (``answers_at_once``), in the caller's open transaction (the
    route's idempotency key is claimed in it): the new payments' numbers."""
    _providers(providers, command)
    async with UnitOfWork(conn, actor, joined=True) as uow:
        numbers: list[str] = await bus.handle(command, uow)
    return numbers


async def settle_at_once(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers,
                         command: TakePayment, numbers: list[str], actor: Actor,
                         with_commit: list[str] | None = None) -> list[repository.PaymentRow]:
    """Steps (b) and (c) for tenders that answer at once, in the caller's next transaction (the route's answer
    is stored in it): each charged (no network: an offline tender only records itself) and settled. Given
    ``with_commit``, the outbox statement is left in it, for the caller to send with its COMMIT."""
    rows = []
    async with UnitOfWork(conn, actor, joined=True, with_commit=with_commit) as uow:
        for payment_no, tender, provider in zip(numbers, command.tenders, _providers(providers, command), strict=True):
            result = await _asked(provider.charge(_request(command, payment_no, tender)))
            rows.append(await bus.handle(SettlePayment(payment_no, result), uow)
                        or await _get(conn, command.station, payment_no))
    return rows


async def take(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, command: TakePayment,
               actor: Actor) -> list[repository.PaymentRow]:
    """Take the command's tenders; the payments as they stand after their providers answered. For online
    methods: (a) opened, (b) charged with no transaction open, (c) settled (tenders that answer at once may
    go through ``open_at_once`` and ``settle_at_once`` instead)."""
    found = _providers(providers, command)
    async with UnitOfWork(conn, actor) as uow:
        numbers: list[str] = await bus.handle(command, uow)
    rows: list[repository.PaymentRow | None] = []
    for payment_no, tender, provider in zip(numbers, command.tenders, found, strict=True):
        result = await _asked(provider.charge(_request(command, payment_no, tender)))   # no transaction open
        async with UnitOfWork(conn, actor) as uow:
            rows.append(await bus.handle(SettlePayment(payment_no, result), uow))
    return [row or await _get(conn, command.station, n) for row, n in zip(rows, numbers, strict=True)]


def _request(command: TakePayment, payment_no: str, tender: Tender) -> ChargeRequest:
    return ChargeRequest(payment_no, command.station, tender.method, tender.amount_fen, f"{command.station} 加油",
                         tender.auth_code, tender.reference, tender.note, tender.card_no, tender.member_no,
                         tender.auth_no)


async def _asked(answer: Awaitable[ChargeResult]) -> ChargeResult:
    """The provider's answer; PENDING when it failed to give one (the money may have been taken: the payment
    stays pending, and a later query settles it; it is never marked failed on a guess)."""
    try:
        return await answer
    except Exception as exc:
        log.warning("payment provider gave no answer: %r", exc)
        return ChargeResult(ChargeState.PENDING, message=UNKNOWN)


async def _get(conn: psycopg.AsyncConnection, station: str, payment_no: str) -> repository.PaymentRow:
    row = await repository.get(conn, station, payment_no)
    if row is None:
        raise PaymentNotFound(f"没有收款 {payment_no} (no payment {payment_no})")
    return row


async def look(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, station: str,
               payment_no: str, actor: Actor) -> repository.PaymentRow:
    """The payment, after asking its provider if it is still pending and carrying out its pending refunds."""
    row = await _get(conn, station, payment_no)
    if row.state == "pending":
        provider = providers.get(Method(row.method))
        if provider is not None:
            result = await _asked(provider.query(payment_no))
            async with UnitOfWork(conn, actor) as uow:
                await bus.handle(SettlePayment(payment_no, result), uow)
    await close_refused(conn, payment_no, datetime.now(UTC))
    await carry_out_refunds(conn, bus, providers, actor, payment_no)
    return await _get(conn, station, payment_no)


async def cancel(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, station: str,
                 payment_no: str, actor: Actor) -> repository.PaymentRow:
    """The POS gave up waiting: close the provider's order. If the customer paid after all, it is a success."""
    row = await _get(conn, station, payment_no)
    if row.state != "pending":
        return row
    provider = providers.get(Method(row.method))
    if provider is None:
        raise PaymentRuleError("收款方式未开通，无法撤销 (the method is not set up here; it cannot be cancelled)")
    result = await _asked(provider.cancel(payment_no))
    async with UnitOfWork(conn, actor) as uow:
        await bus.handle(SettlePayment(payment_no, result, cancelled=True), uow)
    return await _get(conn, station, payment_no)


async def refund(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, command: RequestRefund,
                 actor: Actor) -> repository.RefundRow:
    async with UnitOfWork(conn, actor) as uow:
        refund_no: str = await bus.handle(command, uow)
    await carry_out_refunds(conn, bus, providers, actor, command.payment_no)
    found = await repository.get_refund(conn, refund_no)
    if found is None:
        raise PaymentNotFound(f"没有退款 {refund_no} (no refund {refund_no})")
    return found


async def carry_out_refunds(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, actor: Actor,
                            payment_no: str | None = None) -> int:
    """Hand each pending (approved) refund to its payment's provider and record the answer; how many settled.
    The provider keys a refund on its number, so asking again after a crash refunds once."""
    settled = 0
    for refund_no, of_payment in await repository.pending_refunds(conn, payment_no):
        found = await repository.get_refund(conn, refund_no)
        payment = await repository.get(conn, found.station, of_payment) if found else None
        if found is None or payment is None:
            continue
        provider = providers.get(Method(payment.method))
        if provider is None:
            continue
        result = await provider.refund(RefundRequest(refund_no, of_payment, Method(payment.method), found.amount_fen,
                                                     payment.amount_fen, found.reason))
        async with UnitOfWork(conn, actor) as uow:
            settled += bool(await bus.handle(SettleRefund(refund_no, result, actor.name), uow))
    return settled


async def reconcile(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, actor: Actor,
                    station: str | None = None) -> int:
    """Resolve what a crash left half done: each pending payment asked of its provider (and settled if it
    answers), each approved refund carried out. Run at start; returns how many payments settled."""
    settled = 0
    for _station, payment_no, method in await repository.pending(conn, station):
        provider = providers.get(Method(method))
        if provider is None:
            continue
        result = await _asked(provider.query(payment_no))
        if result.state is not ChargeState.PENDING:
            async with UnitOfWork(conn, actor) as uow:
                settled += await bus.handle(SettlePayment(payment_no, result), uow) is not None
    await carry_out_refunds(conn, bus, providers, actor, None)
    return settled


