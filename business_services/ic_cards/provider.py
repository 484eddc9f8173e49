"""``Method.IC_CARD``, the payments context's provider for IC cards: the chip holds the value, so it is safe
offline. The chip work is the desk's (``desk.Desk.debit``); this adapts it to ``PaymentProvider``."""

from __future__ import annotations

import psycopg

from business_services.ic_cards import repository
from business_services.ic_cards.desk import LOCK_REF, Desk
from business_services.ic_cards.model import LockState
from business_services.ic_cards.reader import ReaderError
from business_services.payments.providers import ChargeRequest, ChargeResult, ChargeState, RefundRequest, RefundResult
from telemetry.contracts.card_reader import GreyRecord
from telemetry.contracts.events.payments import Method


class IcCardProvider:
    """``Method.IC_CARD``: safe offline (the chip holds the value). A tender's ``reference`` names where the
    card is: a POS reader (``pos-1``: lock, debit and unlock now) or a fuelling's lock (``lock:<card>:<counter>``,
    from ``Desk.complete``)."""

    method = Method.IC_CARD
    safe_offline = True

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def unavailable(self) -> str | None:
        return None if self.desk.readers else "本站没有读卡器 (no card reader at this station)"

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        ref = request.reference or ""
        async with await self.desk._connect() as conn:
            if ref.startswith(LOCK_REF):
                card_no, _, counter = ref[len(LOCK_REF):].partition(":")
                lock = await repository.get_lock(conn, card_no, int(counter) if counter.isdigit() else 0)
                if lock is None:
                    return ChargeResult(ChargeState.FAILED, message="没有这个灰锁 (no such grey lock)")
                if not await repository.set_payment(conn, lock.card_no, lock.counter, request.payment_no) \
                        and lock.payment_no != request.payment_no:
                    return ChargeResult(ChargeState.FAILED,
                                        message=f"此灰锁已由收款 {lock.payment_no} 处理 (paid by another payment)")
                return await self.desk.debit(conn, await repository.get_lock(conn, card_no, lock.counter) or lock)
            return await self._at_pos(conn, request)

    async def _at_pos(self, conn: psycopg.AsyncConnection, request: ChargeRequest) -> ChargeResult:
        reader = self.desk.readers.get(request.reference or "")
        if reader is None:
            return ChargeResult(ChargeState.FAILED, message="请选择插卡的读卡器 (name the reader the card is in)")
        try:
            _, insertion = await reader.slot.status()
            purse = await reader.slot.open()
            if purse.grey is not None:
                return ChargeResult(ChargeState.FAILED, message="此卡灰锁，请先解灰 (the card is grey: settle it)")
            if purse.balance_fen < request.amount_fen:
                return ChargeResult(ChargeState.FAILED, message="卡内余额不足 (the purse holds less than this)")
            now = self.desk.now()
            counter, _ = await reader.slot.lock(GreyRecord(request.station, reader.pump, 0, now))
        except ReaderError as exc:
            return ChargeResult(ChargeState.FAILED, message=str(exc))
        await repository.add_lock(conn, repository.Lock(
            purse.card_no, counter, request.station, reader.name, insertion, reader.pump, 0, now, LockState.DUE,
            None, request.payment_no, request.amount_fen, None, None, None))
        lock = await repository.get_lock(conn, purse.card_no, counter)
        if lock is None:       # written just now: only a lock another process made under this counter
            return ChargeResult(ChargeState.PENDING, message="灰锁记录缺失 (the lock's row is missing)")
        return await self.desk.debit(conn, lock)

    async def query(self, payment_no: str) -> ChargeResult:
        async with await self.desk._connect() as conn:
            lock = await repository.lock_of_payment(conn, payment_no)
            if lock is None:
                return ChargeResult(ChargeState.FAILED, message="没有这笔 IC 卡扣款 (no IC debit for it)")
            return await self.desk.debit(conn, lock)

    async def cancel(self, payment_no: str) -> ChargeResult:
        """A grey lock cannot be cancelled from the POS: the chip holds it until a debit or a release."""
        return await self.query(payment_no)

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(ChargeState.FAILED, message="IC 卡退款请到总部办理圈存 (IC-card refunds are not taken "
                                                        "at the POS)")
