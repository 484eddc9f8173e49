"""The station's IC-card desk: what happens at each card reader, and the IC-card payment provider.

One ``Desk`` per station server. ``card_inserted`` runs when a reader reports a new card: it reads the purse
(reported up as ``ic_card.purse_read``), settles a grey lock the card carries (this station's at once from its
own list; another station's only after the rule's delay and from head office's grey list) and, at a fuelling
point's reader, grey-locks the card for the fuelling. The fuelling's order is tied to the lock by the bus
(``handlers.fuelling_completed``); ``settle_due`` then takes the IC payment of each due lock through the
payments context, whose provider (``provider.IcCardProvider``) debits the chip. A card pulled before its debit leaves
the lock ``due`` and the payment pending (the order unpaid-grey), the grey record goes up, and the next
insertion completes it. ``watch`` polls the readers (one poller for the link) and calls both.

Nothing here holds a transaction open while a reader answers: reader I/O happens between units of work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from business_services.audit.model import Actor, AuditEntry
from business_services.ic_cards import loads, repository
from business_services.ic_cards.loads import LoadAuthority
from business_services.ic_cards.model import (
    GREY_DELAY,
    GreyRule,
    IcCardError,
    LockState,
    Psam,
    grey_rule,
    mask_card,
    reference,
    wait_message,
)
from business_services.ic_cards.reader import CardGone, CardRefused, Purse, ReaderError, Slot
from business_services.messagebus import MessageBus
from business_services.orders import views as orders
from business_services.payments import service
from business_services.payments.model import PaymentRuleError, TakePayment, Tender
from business_services.payments.providers import ChargeResult, ChargeState
from business_services.payments.registry import Providers
from business_services.stations import views as stations
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.card_reader import SW, GreyRecord
from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.ic_cards import IcGreyRecorded, IcGreySettled, IcPurseRead
from telemetry.contracts.events.payments import Method

log = logging.getLogger(__name__)
SOURCE = "business/ic_cards"
ACTOR = Actor(name="ic-card-desk", source="card-reader")
LOCK_REF = "lock:"
PULLED = "卡已拔出，灰锁待解：重新插卡即完成扣款 (the card was pulled before its debit: insert it again to finish)"

#: asks head office for a grey record: (card_no, counter) → the record, or None when it has none
GreyList = Callable[[str, int], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Reader:
    name: str               # e.g. pos-1, disp-01/1
    slot: Slot
    pump: str               # the dispenser (or the POS terminal)
    fuelling_point: int     # 0: a POS reader


@dataclass
class Desk:
    station: str
    database_url: str
    readers: dict[str, Reader]
    psam: Psam
    bus: MessageBus
    providers: Providers = field(default_factory=Providers)
    grey_list: GreyList | None = None            # head office's, through the station's link (None: offline)
    loads: LoadAuthority | None = None           # head office's load routes (None: no loads here)
    delay: timedelta = GREY_DELAY
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    seen: dict[str, int] = field(default_factory=dict)     # the insertion count handled, per reader

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)

    async def _emit(self, conn: psycopg.AsyncConnection, event: EventPayload, event_id: str,
                    station: str | None = None) -> None:
        async with UnitOfWork(conn, ACTOR) as uow:
            uow.emit(await stations.event_topic_for(conn, station or self.station, event.TYPE),
                     event.envelope(source=SOURCE, event_id=event_id))

    async def _audit(self, conn: psycopg.AsyncConnection, action: str, card_no: str, counter: int,
                     after: dict[str, Any]) -> None:
        """A grey lock ended without its own station's debit (released, or settled from head office's list)."""
        async with UnitOfWork(conn, ACTOR) as uow:
            await uow.audit(AuditEntry(action, f"card:{mask_card(card_no)}/{counter}", self.station or None, None,
                                       after))

    # ---- a card goes in -----------------------------------------------------------------------------------

    async def card_inserted(self, reader_name: str) -> str:
        """What the reader's screen says after the card went in (Chinese first)."""
        reader = self.readers[reader_name]
        try:
            _, insertion = await reader.slot.status()
            purse = await reader.slot.open()
        except ReaderError as exc:
            return str(exc)
        self.seen[reader_name] = insertion
        async with await self._connect() as conn:
            try:
                return await self._handle(conn, reader, insertion, purse)
            finally:
                await self._report_read(conn, reader, purse.card_no)

    async def _handle(self, conn: psycopg.AsyncConnection, reader: Reader, insertion: int, purse: Purse) -> str:
        if self.loads is not None:        # a load whose write's outcome was unknown: settled from the chip now
            for kept in await loads.open_loads(conn, purse.card_no):
                try:
                    log.info("圈存 %s: %s", kept["load_no"],
                             (await loads.resolve(conn, reader.slot, self.loads, kept)).message)
                except (ReaderError, IcCardError) as exc:
                    return str(exc)
            purse = await reader.slot.open()
        if purse.grey is not None:
            settled = await self._grey(conn, reader, insertion, purse, purse.grey)
            if settled is not None:
                return settled
        if reader.fuelling_point == 0:
            return "请选择订单收款 (choose the orders to pay)"
        return await self._lock_for_fuelling(conn, reader, insertion)

    async def _report_read(self, conn: psycopg.AsyncConnection, reader: Reader, card_no: str) -> None:
        """The purse as the insertion left it, for head office's reconciliation (``ic_card.purse_read``)."""
        try:
            purse = await reader.slot.read(card_no)
        except ReaderError:
            return
        read = IcPurseRead(station=self.station, card_no=purse.card_no, balance_fen=purse.balance_fen,
                           counter=purse.counter, grey=purse.grey is not None, read_at=self.now())
        await self._emit(conn, read, read.event_id())

    async def _lock_for_fuelling(self, conn: psycopg.AsyncConnection, reader: Reader, insertion: int) -> str:
        now = self.now()
        try:
            purse = await reader.slot.open()
            if purse.balance_fen <= 0:
                return "卡内余额不足，请圈存 (the purse is empty: load it first)"
            counter, _ = await reader.slot.lock(GreyRecord(self.station, reader.pump, reader.fuelling_point, now))
        except ReaderError as exc:
            return str(exc)
        await repository.add_lock(conn, repository.Lock(
            purse.card_no, counter, self.station, reader.name, insertion, reader.pump, reader.fuelling_point, now,
            LockState.LOCKED, None, None, None, None, None, None))
        log.info("IC 卡灰锁 %s 加油点 %s/%d 序号 %d", mask_card(purse.card_no), reader.pump, reader.fuelling_point,
                 counter)
        return "已灰锁，请加油 (the card is locked: fuel now)"

    async def _grey(self, conn: psycopg.AsyncConnection, reader: Reader, insertion: int, purse: Purse,
                    grey: GreyRecord) -> str | None:
        """Settle the grey lock the card carries; None when it is no longer grey, else why it still is."""
        rule = grey_rule(grey, self.station, self.now(), self.delay)
        if rule is GreyRule.WAIT:
            return wait_message(grey, self.now(), self.delay)
        if rule is GreyRule.HEAD_OFFICE:
            return await self._from_head_office(conn, reader, purse.card_no, grey)
        lock = await repository.get_lock(conn, purse.card_no, grey.counter)
        if lock is None:            # locked here, but nothing was sold under it (a crash before its row): release
            released = await self._release(reader, purse.card_no, grey.counter)
            if released is None:
                await self._audit(conn, "ic_card.grey.release", purse.card_no, grey.counter,
                                  {"reason": "no lock row: nothing sold under it", "reader": reader.name})
            return released
        await repository.moved(conn, lock.card_no, lock.counter, reader.name, insertion)
        if lock.state == LockState.LOCKED:
            return "灰锁中，等待加油完成 (locked: waiting for the fuelling to finish)"
        if lock.state == LockState.DUE:
            await self.complete(conn, lock.card_no, lock.counter)
            done = await repository.get_lock(conn, lock.card_no, lock.counter)
            if done is None or done.state not in (LockState.DEBITED, LockState.RELEASED):
                return "解灰扣款未完成，请勿拔卡 (the debit did not finish: keep the card in)"
        return None

    async def _release(self, reader: Reader, card_no: str, counter: int) -> str | None:
        at = self.now()
        try:
            await reader.slot.debit_for_unlock(counter, 0, at, self.psam.unlock_mac(card_no, counter, 0, at))
        except ReaderError as exc:
            return str(exc)
        return None

    async def _from_head_office(self, conn: psycopg.AsyncConnection, reader: Reader, card_no: str,
                                grey: GreyRecord) -> str | None:
        if self.grey_list is None:
            return "总部连接中断，不能解他站灰锁 (head office is unreachable: another station's lock waits)"
        record = await self.grey_list(card_no, grey.counter)
        if record is None or record.get("amount_fen") is None:
            return (f"总部没有此卡在 {grey.station} 的灰记录，请回原站处理 (head office holds no grey record of it "
                    f"from {grey.station}: settle it there)")
        amount, at = int(record["amount_fen"]), self.now()
        try:
            tac = await reader.slot.debit_for_unlock(grey.counter, amount, at,
                                                     self.psam.unlock_mac(card_no, grey.counter, amount, at))
        except ReaderError as exc:
            return str(exc)
        settled = IcGreySettled(station=self.station, card_no=card_no, counter=grey.counter,
                                origin_station=grey.station, payment_no=record.get("payment_no"), amount_fen=amount,
                                tac=tac.hex(), settled_at=at)
        await self._emit(conn, settled, settled.event_id())
        await self._audit(conn, "ic_card.grey.settle_other", card_no, grey.counter,
                          {"origin_station": grey.station, "amount_fen": amount, "reader": reader.name})
        return None

    # ---- a due lock is paid -------------------------------------------------------------------------------

    async def complete(self, conn: psycopg.AsyncConnection, card_no: str, counter: int) -> None:
        """Take (or settle) the IC payment of a due lock: its provider debits the chip if it can."""
        lock = await repository.get_lock(conn, card_no, counter)
        if lock is None or lock.state != LockState.DUE:
            return
        if lock.payment_no is None and lock.order_no is not None and not await self._owed(conn, lock):
            await self._release_lock(conn, lock)           # paid by other means meanwhile: nothing to debit
            return
        try:
            if lock.payment_no is not None:
                await service.look(conn, self.bus, self.providers, self.station, lock.payment_no, ACTOR)
            elif lock.order_no is not None and lock.amount_fen:
                await service.take(conn, self.bus, self.providers, TakePayment(
                    self.station, lock.reader, ACTOR.name, (lock.order_no,),
                    (Tender(Method.IC_CARD, lock.amount_fen, reference=f"{LOCK_REF}{card_no}:{counter}"),),
                    self.now()), ACTOR)
        except PaymentRuleError as exc:
            log.warning("IC 卡灰锁 %s/%d 收款未成: %s", mask_card(card_no), counter, exc.message)

    async def _owed(self, conn: psycopg.AsyncConnection, lock: repository.Lock) -> int:
        due = (await orders.dues(conn, lock.station, [lock.order_no or ""])).get(lock.order_no or "")
        return 0 if due is None else min(due.outstanding_fen, lock.amount_fen or 0)

    async def _release_lock(self, conn: psycopg.AsyncConnection, lock: repository.Lock) -> None:
        """Unlock without a debit (0 fen) while the card is in the lock's reader; else at its next insertion."""
        reader = self.readers.get(lock.reader)
        if reader is None:
            return
        try:
            present, insertion = await reader.slot.status()
            if not present or insertion != lock.insertion:
                return
            at = self.now()
            tac = await reader.slot.debit_for_unlock(lock.counter, 0, at,
                                                     self.psam.unlock_mac(lock.card_no, lock.counter, 0, at))
        except ReaderError as exc:
            log.info("IC 卡灰锁 %s/%d 待释放: %s", mask_card(lock.card_no), lock.counter, exc)
            return
        if await repository.settle(conn, lock.card_no, lock.counter, LockState.RELEASED, tac.hex(), at):
            await self._audit(conn, "ic_card.grey.release", lock.card_no, lock.counter,
                              {"reason": f"order {lock.order_no} paid otherwise", "reader": reader.name})

    async def settle_due(self) -> None:
        async with await self._connect() as conn:
            for lock in await repository.due_locks(conn, self.station):
                await self.complete(conn, lock.card_no, lock.counter)

    async def poll(self) -> None:
        """One round of the poller: a new insertion at a reader is handled, then every due lock is tried."""
        for name, reader in self.readers.items():
            try:
                present, insertion = await reader.slot.status()
            except ReaderError:
                continue
            if present and self.seen.get(name) != insertion:
                log.info("读卡器 %s: %s", name, await self.card_inserted(name))
        await self.settle_due()

    async def watch(self, every_s: float = 0.5) -> None:
        while True:
            try:
                await self.poll()
            except psycopg.OperationalError as exc:
                log.warning("IC 卡：数据库不可用 (database unavailable): %s", exc)
            await asyncio.sleep(every_s)

    # ---- the chip debit behind the provider ---------------------------------------------------------------

    async def debit(self, conn: psycopg.AsyncConnection, lock: repository.Lock) -> ChargeResult:
        """Debit a due lock on the chip, once: in the session that locked it, else with DEBIT FOR UNLOCK; a lost
        answer is recovered from the chip's log. PENDING while the card is not in its reader."""
        if lock.state == LockState.DEBITED:
            return ChargeResult(ChargeState.SUCCEEDED, reference(lock.counter, bytes.fromhex(lock.tac or "")),
                                card_no=lock.card_no)
        amount, reader = lock.amount_fen or 0, self.readers.get(lock.reader)
        try:
            if reader is None:
                raise CardGone(PULLED)
            present, insertion = await reader.slot.status()
            if not present:
                raise CardGone(PULLED)
            at = self.now()
            tac: bytes | None = None
            if insertion == lock.insertion:
                try:
                    tac = await reader.slot.debit(lock.counter, amount, at)
                except CardRefused as exc:
                    if exc.sw != SW.CONDITIONS:
                        raise
            if tac is None:
                tac, at = await self._debit_for_unlock(reader, lock, amount, at)
        except CardGone as exc:
            await self._report(conn, lock)
            return await self._settled_elsewhere(conn, lock) or ChargeResult(ChargeState.PENDING, message=str(exc))
        except CardRefused as exc:
            if exc.sw == SW.INSUFFICIENT:
                return ChargeResult(ChargeState.PENDING, message=f"{exc}，灰锁保留，请圈存后插卡 (load, then insert)")
            return ChargeResult(ChargeState.PENDING, message=str(exc))
        except ReaderError as exc:
            return ChargeResult(ChargeState.PENDING, message=str(exc))
        await repository.settle(conn, lock.card_no, lock.counter, LockState.DEBITED, tac.hex(), at)
        log.info("IC 卡扣款 %s 序号 %d %d 分", mask_card(lock.card_no), lock.counter, amount)
        return ChargeResult(ChargeState.SUCCEEDED, reference(lock.counter, tac), card_no=lock.card_no)

    async def _debit_for_unlock(self, reader: Reader, lock: repository.Lock, amount: int,
                                at: datetime) -> tuple[bytes, datetime]:
        purse = await reader.slot.open()
        if purse.card_no != lock.card_no:
            raise CardGone(PULLED)
        if purse.grey is None or purse.grey.counter != lock.counter:      # not grey under this lock: was it paid?
            for n in range(1, 11):
                line = await reader.slot.log(n)
                if line is None:
                    break
                if line.counter == lock.counter and line.kind == "P":
                    return self.psam.tac(lock.card_no, line.counter, line.amount_fen, line.at), line.at
            raise CardRefused(SW.CONDITIONS)
        return await reader.slot.debit_for_unlock(lock.counter, amount, at,
                                                  self.psam.unlock_mac(lock.card_no, lock.counter, amount, at)), at

    async def _report(self, conn: psycopg.AsyncConnection, lock: repository.Lock) -> None:
        """Send the grey record up (once per state it is in)."""
        what = "due" if lock.amount_fen is not None else "locked"
        if not await repository.reported(conn, lock.card_no, lock.counter, what):
            return
        grey = IcGreyRecorded(station=lock.station, card_no=lock.card_no, counter=lock.counter, pump=lock.pump,
                              fuelling_point=lock.fuelling_point, locked_at=lock.locked_at, order_no=lock.order_no,
                              payment_no=lock.payment_no, amount_fen=lock.amount_fen)
        await self._emit(conn, grey, grey.event_id(), lock.station)

    async def _settled_elsewhere(self, conn: psycopg.AsyncConnection, lock: repository.Lock) -> ChargeResult | None:
        """Another station debited this lock from head office's grey list (after the delay): it is paid."""
        if self.grey_list is None or self.now() - lock.locked_at < self.delay:
            return None
        try:
            record = await self.grey_list(lock.card_no, lock.counter)
        except Exception as exc:      # head office away: the payment stays pending, asked again later
            log.warning("总部灰名单查询失败 (head office's grey list unreachable): %r", exc)
            return None
        if not record or record.get("state") != "settled" or record.get("settled_fen") != lock.amount_fen:
            return None
        tac = str(record.get("settled_tac") or "")
        await repository.settle(conn, lock.card_no, lock.counter, LockState.DEBITED, tac,
                                record.get("settled_at") or self.now())
        return ChargeResult(ChargeState.SUCCEEDED, reference(lock.counter, bytes.fromhex(tac)), card_no=lock.card_no)
