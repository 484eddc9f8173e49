"""No fuelling vanishes: every transaction of a dispenser side is read, in number order, or reported as a gap.

On each poll the edge compares a side's latest transaction number with the last one it dealt with
(kept in the outbox's state, so a restart carries on where it stopped). Every number in between is
read back from the pump's buffer through the transaction window (``read_transaction``); a number
the pump no longer holds is counted and remembered. Each transaction goes into the outbox as a
``fuelling.completed`` event, and the nozzle's totalizer chain is checked (``SideBook.account``):
a break becomes a ``fuelling.gap`` event with the litres that left the nozzle unrecorded. The
events are in the outbox before the book moves on, and both kinds of event have stable ids, so a
crash in between only repeats them. A read that fails stops the walk; the next poll resumes it. A
record that breaks the payload's rules is logged and counted (``forecourt_edge_events_unbuildable_total``).

While the side is idle and every transaction is read, each nozzle's live totalizer must be where
its chain ends (``_check_idle``); more is fuel no transaction holds (the last sales before a restart
were overwritten unread), also a gap. So at any quiet moment, recorded litres plus gap litres equal
each nozzle's totalizer movement since the edge first saw it.

The first time a side is seen (no book yet) only its latest transaction is taken; a nozzle's chain
starts at its first transaction seen, or at its totalizer on the first idle poll.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from pydantic import ValidationError

from edge_nodes import metrics
from edge_nodes.devices.base import PriceStamp
from edge_nodes.outbox import Outbox
from edge_nodes.station_events import unbuildable
from edge_nodes.transactions import (
    MISSING_KEPT,
    Record,
    SideBook,
    fuelling_event,
    gap_event,
    last_record,
    record_started_at,
)
from protocol_adapters.readings import AdapterError, Reading
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FuellingCompleted, FuellingGap
from telemetry.contracts.quality import Quality

log = logging.getLogger(__name__)

#: Most transactions read back one by one after a restart; older numbers count as missing unread.
MAX_READBACK = 500
#: IFSF states with a transaction open (Started, Suspended_Started, Fuelling, Suspended_Fuelling).
FLOWING_STATES = frozenset({6, 7, 8, 9})
MAX_NOZZLES = 4


class TransactionReader(Protocol):
    async def read_transaction(self, fp: int, number: int) -> Record | None: ...


class FuellingRecovery:
    def __init__(self, station: str, outbox: Outbox, emit: Callable[[CloudEvent], Awaitable[None]],
                 readers: dict[str, TransactionReader],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 price_set_at: PriceStamp | None = None) -> None:
        self.station = station
        self._outbox = outbox
        self._emit = emit
        self._readers = readers
        self._now = now
        self._price_set_at = price_set_at
        self._books: dict[tuple[str, int], SideBook] = {}

    async def on_readings(self, device: str, fuelling_points: int, readings: dict[str, Reading]) -> None:
        for fp in range(1, fuelling_points + 1):
            latest = last_record(readings, fp)
            if latest is None:
                continue
            book = await self._book(device, fp)
            if int(latest["transaction"]) != book.seen:  # type: ignore[call-overload]
                await self._catch_up(device, fp, book, latest)
            if int(latest["transaction"]) == book.seen:  # type: ignore[call-overload]
                await self._check_idle(device, fp, book, readings)

    async def _book(self, device: str, fp: int) -> SideBook:
        book = self._books.get((device, fp))
        if book is None:
            stored = await self._outbox.get_state(f"{device}/fp{fp}/book")
            try:
                book = SideBook.from_json(stored) if stored is not None else None
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                log.error("%s fp%d: the edge's book is unreadable (%s); starting a new one from the latest "
                          "transaction", device, fp, exc)
            if book is None:   # none yet (an edge from before the book kept only the last number)
                book = SideBook(seen=int(await self._outbox.get_state(f"{device}/fp{fp}/last_transaction") or 0))
            self._books[(device, fp)] = book
        return book

    async def _catch_up(self, device: str, fp: int, book: SideBook, latest: Record) -> None:
        number = int(latest["transaction"])  # type: ignore[call-overload]
        if book.seen == 0 or number < book.seen:
            if book.seen:
                log.warning("%s fp%d: transaction numbers went back from %d to %d (renumbered or wrapped); "
                            "carrying on from %d", device, fp, book.seen, number, number)
                book.renumbered()
            await self._take(device, fp, book, [latest], number)
            return
        first, oldest_read = book.seen + 1, max(book.seen + 1, number - MAX_READBACK)
        if oldest_read > first:
            for unread in range(max(first, oldest_read - MISSING_KEPT), oldest_read):
                book.note_missing(unread)
            metrics.FUELLINGS_MISSING.labels(device).inc(oldest_read - first)
            log.error("fuellings %s fp%d #%d..#%d are too far back to read: their volume will be reported as a gap",
                      device, fp, first, oldest_read - 1)
        records: list[Record] = []
        last = book.seen
        try:
            for missed in range(oldest_read, number):
                record = await self._readers[device].read_transaction(fp, missed)
                if record is None:
                    self._missing(device, fp, book, missed)
                else:
                    records.append(record)
                    log.info("recovered fuelling %s fp%d #%d from the pump's buffer", device, fp, missed)
                last = missed
            records.append(latest)
            last = number
        except AdapterError as exc:       # the next poll carries on from the last number read
            log.warning("could not read back older fuellings of %s fp%d yet: %s", device, fp, exc)
        await self._take(device, fp, book, records, last)

    async def _check_idle(self, device: str, fp: int, book: SideBook, readings: dict[str, Reading]) -> None:
        """Every transaction read and no fuel flowing: each nozzle's totalizer must be where its chain ends.

        Only values from the same read as the side's state and last transaction count (one Modbus
        request answers from one instant), so a fuelling that starts or ends between two reads
        cannot look like a gap.
        """
        stamp = readings[f"fp{fp}/last/transaction"].source_time
        state = readings.get(f"fp{fp}/state")
        if not _same_read(state, stamp) or state is None or int(state.value or 0) in FLOWING_STATES:
            return
        changed = False
        for k in range(1, MAX_NOZZLES + 1):
            total, grade = readings.get(f"fp{fp}/nozzle{k}/volume_total"), readings.get(f"fp{fp}/nozzle{k}/grade")
            if total is None or grade is None:
                break
            if not (_same_read(total, stamp) and _same_read(grade, stamp)):
                continue
            gap, moved = book.account_idle(self.station, device, fp, k, int(grade.value or 0),
                                           round(float(total.value or 0) * 100), self._now())
            changed = changed or moved
            if gap is not None:
                await self._report(device, fp, gap)
        if changed:
            await self._outbox.set_state(f"{device}/fp{fp}/book", book.to_json())

    def _missing(self, device: str, fp: int, book: SideBook, number: int) -> None:
        book.note_missing(number)
        metrics.FUELLINGS_MISSING.labels(device).inc()
        log.error("fuelling %s fp%d #%d is no longer in the pump's buffer: its volume will be reported as a gap",
                  device, fp, number)

    async def _take(self, device: str, fp: int, book: SideBook, records: list[Record], seen: int) -> None:
        """Events for ``records`` (in number order) and any gap before each, then the book moves to ``seen``."""
        for record in records:
            try:
                event = fuelling_event(self.station, device, fp, record, self._stamp(device, fp, record))
            except ValidationError as exc:
                unbuildable(FuellingCompleted.TYPE, f"{device} fp{fp} #{record['transaction']}", exc)
            else:
                await self._emit(event)
                log.info("fuelling completed: %s fp%d #%s", device, fp, record["transaction"])
            gap, problem = book.account(self.station, device, fp, record, self._now())
            if problem is not None:
                metrics.TOTALIZER_ANOMALIES.labels(device).inc()
                log.error("%s fp%d nozzle %s: %s", device, fp, record["nozzle"], problem)
            if gap is not None:
                await self._report(device, fp, gap)
        book.seen = seen
        await self._outbox.set_state(f"{device}/fp{fp}/book", book.to_json())

    def _stamp(self, device: str, fp: int, record: Record) -> int | None:
        """The price-set version the fuelling was sold under (None: the edge holds no price set)."""
        if self._price_set_at is None:
            return None
        return self._price_set_at(device, fp, int(record["nozzle"]), record_started_at(record),  # type: ignore[call-overload]
                                  int(record["price"]))  # type: ignore[call-overload]

    async def _report(self, device: str, fp: int, gap: FuellingGap) -> None:
        await self._emit(gap_event(gap))
        metrics.FUELLING_GAPS.labels(device).inc()
        metrics.FUELLING_GAP_LITRES.labels(device).inc(float(gap.volume_l))
        log.error("fuelling gap %s fp%d nozzle %d: %s L left the nozzle unrecorded (totalizer %s → %s, "
                  "missing transactions %s)", device, fp, gap.nozzle, gap.volume_l, gap.totalizer_from_l,
                  gap.totalizer_to_l, list(gap.missing_transactions) or "unknown")


def _same_read(reading: Reading | None, stamp: datetime) -> bool:
    return reading is not None and reading.quality is Quality.GOOD and reading.source_time == stamp
