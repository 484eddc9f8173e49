"""What head office does for an online payment: create the provider order once, settle it, close, refund.

These run outside the message bus on purpose: each talks to a provider between two short transactions
(the row first, so a retry finds it; the provider's answer after), never holding a transaction open over
the network. Every step is safe to repeat: the row is unique on ``payment_no`` and the provider refuses a
second order with it; a callback is unique on its notification id; a refund on its ``refund_no``, its
amount counted against the capture under the payment's row lock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import psycopg

from business_services.audit.model import Actor, AuditEntry
from business_services.online_payments import repository
from business_services.online_payments.model import (
    UNKNOWN,
    Notice,
    Outcome,
    ProviderGateway,
    ProviderUnreachable,
    check_refund,
)
from business_services.payments.providers import ChargeRequest, ChargeResult, ChargeState, RefundResult
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.payments import Method

log = logging.getLogger(__name__)


class Connections(Protocol):
    """Where connections come from (the API's pool, ``control_api.database.Database``)."""

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection]: ...


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    """The same number was used for a different payment or refund."""


def not_offered(method: Method) -> str:
    return f"{method.value} 尚未开通，请选择其他支付方式 (this method is not set up at head office)"


def result_of(row: Mapping[str, Any]) -> ChargeResult:
    return ChargeResult(ChargeState(row["state"]), row["provider_ref"], row["qr_code_url"], row["message"])


class OnlinePayments:
    def __init__(self, db: Connections, gateways: Mapping[Method, ProviderGateway]) -> None:
        self.db, self.gateways = db, gateways

    def _gateway(self, method: Method) -> ProviderGateway | None:
        return self.gateways.get(method)

    async def payment(self, payment_no: str) -> dict[str, Any]:
        async with self.db.connection() as conn:
            row = await repository.payment(conn, payment_no)
        if row is None:
            raise NotFound(f"没有支付单 {payment_no} (no such online payment)")
        return row

    async def _settle(self, payment_no: str, outcome: Outcome, audit: AuditEntry | None = None,
                      actor: Actor | None = None) -> ChargeResult:
        async with self.db.connection() as conn, UnitOfWork(conn, actor or Actor.system("online-payments")) as uow:
            await repository.settle(conn, payment_no, outcome)
            if audit is not None:                   # the cashier's action, whatever a callback did meanwhile
                await uow.audit(audit)
            row = await repository.payment(conn, payment_no)
        if row is None:
            raise NotFound(f"没有支付单 {payment_no} (no such online payment)")
        return result_of(row)

    async def charge(self, r: ChargeRequest) -> ChargeResult:
        gateway = self._gateway(r.method)
        if gateway is None:
            return ChargeResult(ChargeState.FAILED, message=not_offered(r.method))
        async with self.db.connection() as conn, conn.transaction():
            first = await repository.insert(conn, r)
            row = await repository.payment(conn, r.payment_no) or {}
            payer = r.auth_code if r.method != Method.AGREEMENT else (      # 免密支付: the member's contract
                await repository.active_contract(conn, r.member_no) if r.member_no else None)
        if not first:
            if (row["station"], row["method"], row["amount_fen"]) != (r.station, r.method.value, r.amount_fen):
                raise Conflict(f"支付单号 {r.payment_no} 已用于另一笔支付 (used for another payment)")
            return await self.status(r.payment_no)
        try:
            outcome = await gateway.create(r.payment_no, r.amount_fen, r.description, payer)
        except ProviderUnreachable as exc:
            log.warning("online payment %s: %s", r.payment_no, exc)
            outcome = Outcome(ChargeState.PENDING, message=UNKNOWN)
        return await self._settle(r.payment_no, outcome)

    async def status(self, payment_no: str) -> ChargeResult:
        """From the table; a pending payment is asked of the provider first."""
        row = await self.payment(payment_no)
        gateway = self._gateway(Method(row["method"]))
        if row["state"] != ChargeState.PENDING or gateway is None:
            return result_of(row)
        try:
            outcome = await gateway.query(payment_no)
        except ProviderUnreachable as exc:
            log.warning("online payment %s: query: %s", payment_no, exc)
            return result_of(row)
        if outcome.state == ChargeState.PENDING:
            return result_of(row)
        return await self._settle(payment_no, outcome)

    async def settle_pending(self, older_than_s: float = 60.0, limit: int = 100) -> int:
        """Ask the provider about payments pending longer than ``older_than_s`` (a lost callback, a station that
        stopped asking); returns how many were settled. Run it periodically (docs/online-payments.md)."""
        async with self.db.connection() as conn:
            waiting = await repository.pending_since(conn, older_than_s, limit)
        settled = 0
        for payment_no in waiting:
            settled += (await self.status(payment_no)).state != ChargeState.PENDING
        return settled

    async def cancel(self, payment_no: str, actor: Actor) -> ChargeResult:
        """Close the provider order; SUCCEEDED when the customer paid after all (the payment then counts)."""
        row = await self.payment(payment_no)
        gateway = self._gateway(Method(row["method"]))
        if row["state"] != ChargeState.PENDING or gateway is None:
            return result_of(row)
        try:
            outcome = await gateway.close(payment_no)
        except ProviderUnreachable as exc:
            log.warning("online payment %s: close: %s", payment_no, exc)
            return ChargeResult(ChargeState.PENDING, row["provider_ref"], row["qr_code_url"],
                                "撤销未确认，请稍后再试 (the provider did not confirm the close; try again)")
        audit = AuditEntry("online_payment.cancel", f"payment:{payment_no}", row["station"],
                           {"state": row["state"]}, {"state": outcome.state.value})
        return await self._settle(payment_no, outcome, audit, actor)

    async def refund(self, refund_no: str, payment_no: str, amount_fen: int, reason: str,
                     actor: Actor) -> RefundResult:
        async with self.db.connection() as conn, UnitOfWork(conn, actor) as uow:
            row = await repository.payment(conn, payment_no, lock=True)   # one refund decision at a time
            if row is None:
                raise NotFound(f"没有支付单 {payment_no} (no such online payment)")
            known = await repository.refund(conn, refund_no)
            if known is not None:
                if (known["payment_no"], known["amount_fen"]) != (payment_no, amount_fen):
                    raise Conflict(f"退款单号 {refund_no} 已用于另一笔退款 (used for another refund)")
                if known["state"] != ChargeState.PENDING:
                    return RefundResult(ChargeState(known["state"]), known["provider_ref"], known["message"])
            else:
                check_refund(row["state"], row["captured_fen"], row["refunded_fen"], amount_fen)
                await repository.reserve_refund(conn, refund_no, payment_no, amount_fen, reason)
                await uow.audit(AuditEntry("online_payment.refund", f"refund:{refund_no}", row["station"],
                                           {"refunded_fen": row["refunded_fen"]},
                                           {"refund_fen": amount_fen, "payment_no": payment_no, "reason": reason}))
        gateway = self._gateway(Method(row["method"]))
        if gateway is None:
            return RefundResult(ChargeState.PENDING, message=not_offered(Method(row["method"])))
        try:
            outcome = await gateway.refund(refund_no, payment_no, amount_fen, row["captured_fen"], reason)
        except ProviderUnreachable as exc:
            log.warning("online refund %s: %s", refund_no, exc)
            return RefundResult(ChargeState.PENDING, message=UNKNOWN)
        async with self.db.connection() as conn, conn.transaction():
            await repository.finish_refund(conn, refund_no, outcome)
        return RefundResult(outcome.state, outcome.provider_ref, outcome.message)

    async def notified(self, provider: str, notice: Notice) -> bool:
        """Apply a verified callback once; False for a repeat (nothing changes)."""
        async with self.db.connection() as conn, UnitOfWork(conn, Actor.system(provider)):
            first = await repository.record_callback(conn, provider, notice)
            row = await repository.payment(conn, notice.payment_no, lock=True)
            if not first or row is None or notice.state == ChargeState.PENDING:
                return first
            if notice.amount_fen != row["amount_fen"]:
                log.warning("online payment %s: %s callback amount differs from the order; not applied",
                            notice.payment_no, provider)
                return first
            await repository.settle(conn, notice.payment_no,
                                    Outcome(notice.state, notice.provider_ref, message="支付成功"
                                            if notice.state == ChargeState.SUCCEEDED else "支付未成功"))
        return first
