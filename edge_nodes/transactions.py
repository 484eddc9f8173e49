"""Fuelling transactions in a dispenser's registers, and the totalizer chain that accounts for them (pure).

``last_record`` reads a fuelling point's *last completed transaction* from the readings;
``fuelling_event`` turns a record into a ``fuelling.completed`` event (``FuellingCompleted``, litres
exact from the pump's centilitres) whose id comes from the transaction's natural key (station, pump,
fuelling point, number, start time), so seeing the same transaction again (after a restart) gives
the same event and every consumer stays idempotent.

``SideBook`` is what the edge keeps per fuelling point between polls and restarts: the last
transaction number it has dealt with, each nozzle's last accounted totalizer, and the numbers the
pump no longer held when the edge read back. ``SideBook.account`` walks a nozzle's chain: a
fuelling whose totalizer before is not the previous one's totalizer after means fuel left the
nozzle unrecorded, and that stretch becomes a ``FuellingGap`` with the difference as its volume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from protocol_adapters.readings import Reading
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FuellingCompleted, FuellingGap
from telemetry.contracts.quality import Quality

#: Missing transaction numbers remembered per side until a gap claims them (oldest forgotten first).
MISSING_KEPT = 1000

_FIELDS = ("transaction", "nozzle", "grade", "volume", "amount", "price", "start", "end", "volume_total",
           "end_reason")

Record = dict[str, object]


def fuelling_completed(station: str, pump: str, fuelling_point: int, record: Record,
                       price_set: int | None = None) -> FuellingCompleted:
    """The payload for one transaction record (the keys of ``_FIELDS``: transaction, nozzle, grade, volume …),
    sold under the price-set version ``price_set`` (``edge_nodes/prices.py``)."""
    volume_cl, after_cl = _centilitres(record["volume"]), _centilitres(record["volume_total"])
    return FuellingCompleted.model_validate({
        "station": station, "pump": pump, "fuelling_point": fuelling_point, "nozzle": record["nozzle"],
        "grade": record["grade"], "transaction": record["transaction"], "volume_l": _litres(volume_cl),
        "amount_fen": record["amount"], "price_fen_per_l": record["price"],
        "totalizer_before_l": _litres(after_cl - volume_cl), "totalizer_after_l": _litres(after_cl),
        "started_at": datetime.fromtimestamp(int(record["start"]), UTC),  # type: ignore[call-overload]
        "ended_at": datetime.fromtimestamp(int(record["end"]), UTC),  # type: ignore[call-overload]
        "end_reason": record["end_reason"], "price_set": price_set})


def record_started_at(record: Record) -> datetime:
    return datetime.fromtimestamp(int(record["start"]), UTC)  # type: ignore[call-overload]


def fuelling_event(station: str, pump: str, fuelling_point: int, record: Record,
                   price_set: int | None = None) -> CloudEvent:
    """The ``fuelling.completed`` event for one transaction record."""
    t = fuelling_completed(station, pump, fuelling_point, record, price_set)
    return t.envelope(event_id=t.event_id(), source=f"forecourt/{station}/{pump}", time=t.ended_at,
                      subject=f"{pump}/fp{fuelling_point}/{t.transaction}")


def last_record(readings: dict[str, Reading], fuelling_point: int) -> Record | None:
    """The side's last completed transaction, or None (none yet, or any field not of good quality)."""
    fields = {f: readings.get(f"fp{fuelling_point}/last/{f}") for f in _FIELDS}
    if any(r is None or r.quality is not Quality.GOOD for r in fields.values()):
        return None
    record: Record = {f: r.value for f, r in fields.items() if r is not None}
    return record if record["transaction"] else None


def gap_event(gap: FuellingGap) -> CloudEvent:
    return gap.envelope(event_id=gap.event_id(), source=f"forecourt/{gap.station}/{gap.pump}", time=gap.detected_at,
                        subject=f"{gap.pump}/fp{gap.fuelling_point}/nozzle{gap.nozzle}")


def _centilitres(litres: object) -> int:
    """The pump counts whole centilitres; its registers arrive scaled to litres as floats."""
    return round(float(litres) * 100)  # type: ignore[arg-type]


def _litres(centilitres: int) -> Decimal:
    return Decimal(centilitres).scaleb(-2)


@dataclass(frozen=True, slots=True)
class NozzleMark:
    """Where a nozzle's totalizer stood after the last fuelling accounted for, and that fuelling's number."""

    totalizer_cl: int
    transaction: int


@dataclass(slots=True)
class SideBook:
    """The edge's bookkeeping for one fuelling point; kept in the outbox's state as JSON."""

    seen: int = 0
    nozzles: dict[int, NozzleMark] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"seen": self.seen, "missing": self.missing,
                           "nozzles": {str(k): [m.totalizer_cl, m.transaction] for k, m in self.nozzles.items()}})

    @classmethod
    def from_json(cls, text: str) -> SideBook:
        raw = json.loads(text)
        return cls(int(raw["seen"]), {int(k): NozzleMark(int(v[0]), int(v[1])) for k, v in raw["nozzles"].items()},
                   [int(n) for n in raw["missing"]])

    def renumbered(self) -> None:
        """The pump's numbers started again (wrapped, or a new board): keep each nozzle's totalizer only."""
        self.nozzles = {k: NozzleMark(m.totalizer_cl, 0) for k, m in self.nozzles.items()}
        self.missing = []

    def note_missing(self, number: int) -> None:
        if number not in self.missing:
            self.missing = [*self.missing, number][-MISSING_KEPT:]

    def account(self, station: str, pump: str, fuelling_point: int, record: Record,
                detected_at: datetime) -> tuple[FuellingGap | None, str | None]:
        """Move the nozzle's chain over one transaction, in number order.

        Returns the gap before this transaction, if any, and a problem worth logging when the chain
        does not fit (the totalizer went back: a replaced meter board, a reset). The first
        transaction seen on a nozzle only starts its chain; one already accounted for changes nothing.
        """
        nozzle, number = int(record["nozzle"]), int(record["transaction"])  # type: ignore[call-overload]
        after = _centilitres(record["volume_total"])
        before = after - _centilitres(record["volume"])
        mark = self.nozzles.get(nozzle)
        if mark is not None and number <= mark.transaction:
            return None, None        # already accounted for (read again after a restart)
        if mark is not None and after <= mark.totalizer_cl:
            self.nozzles[nozzle] = NozzleMark(after, number)
            return None, (f"totalizer went back from {mark.totalizer_cl / 100:.2f} L to {after / 100:.2f} L "
                          f"(transaction {number}): chain restarted")
        self.nozzles[nozzle] = NozzleMark(after, number)
        if mark is None or before == mark.totalizer_cl:
            return None, None
        if before < mark.totalizer_cl:
            return None, (f"transaction {number} starts at {before / 100:.2f} L, inside the previous one "
                          f"(which ended at {mark.totalizer_cl / 100:.2f} L)")
        return self._gap(station, pump, fuelling_point, nozzle, int(record["grade"]), mark, before,  # type: ignore[call-overload]
                         number, detected_at), None

    def account_idle(self, station: str, pump: str, fuelling_point: int, nozzle: int, grade: int,
                     totalizer_cl: int, detected_at: datetime) -> tuple[FuellingGap | None, bool]:
        """Check a nozzle's live totalizer while no fuel flows and every transaction has been read.

        A nozzle without a chain starts one here; a totalizer beyond the chain's end is fuel that no
        transaction accounts for (the last sales before a restart, overwritten unread): a gap.
        Returns that gap, if any, and whether the book changed.
        """
        mark = self.nozzles.get(nozzle)
        if mark is None:
            self.nozzles[nozzle] = NozzleMark(totalizer_cl, self.seen)
            return None, True
        if totalizer_cl <= mark.totalizer_cl:
            return None, False
        self.nozzles[nozzle] = NozzleMark(totalizer_cl, mark.transaction)
        return self._gap(station, pump, fuelling_point, nozzle, grade, mark, totalizer_cl, None, detected_at), True

    def _gap(self, station: str, pump: str, fuelling_point: int, nozzle: int, grade: int, mark: NozzleMark,
             to_cl: int, before_number: int | None, detected_at: datetime) -> FuellingGap:
        """The stretch from ``mark`` to ``to_cl``, claiming the missing numbers after the mark (and before
        ``before_number``); on a side with several nozzles some may be another nozzle's."""
        claimed = [n for n in self.missing if n > mark.transaction and (before_number is None or n < before_number)]
        self.missing = [n for n in self.missing if n not in claimed]
        return FuellingGap(station=station, pump=pump, fuelling_point=fuelling_point, nozzle=nozzle, grade=grade,
                           missing_transactions=tuple(claimed), totalizer_from_l=_litres(mark.totalizer_cl),
                           totalizer_to_l=_litres(to_cl), volume_l=_litres(to_cl - mark.totalizer_cl),
                           detected_at=detected_at)
