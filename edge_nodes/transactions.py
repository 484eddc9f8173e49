"""Fuelling transactions seen in a dispenser's registers, as ``fueling.completed`` events (pure).

A fuelling point's *last completed transaction* record changes number when a fuelling ends. The
event's id is derived from the transaction's natural key (station, pump, fuelling point, number,
start time), so seeing the same transaction again (after a restart) gives the same event, and
every consumer stays idempotent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from protocol_adapters.readings import Reading
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.quality import Quality

FUELING_COMPLETED = "fueling.completed"
_NAMESPACE = uuid.UUID("6f1c3f0e-3b0a-4a57-9a39-1d3c1f0c6b21")

_FIELDS = ("transaction", "nozzle", "grade", "volume", "amount", "price", "start", "end", "volume_total",
           "end_reason")


def fueling_event_id(station: str, pump: str, fuelling_point: int, transaction: int, started_at: datetime) -> str:
    key = f"{station}/{pump}/fp{fuelling_point}/{transaction}/{started_at.isoformat()}"
    return str(uuid.uuid5(_NAMESPACE, key))


def fueling_event(station: str, pump: str, fuelling_point: int, record: dict[str, object]) -> CloudEvent:
    """The event for one transaction record (the keys of ``_FIELDS``: transaction, nozzle, grade, volume …)."""
    started = datetime.fromtimestamp(int(record["start"]), UTC)  # type: ignore[call-overload]
    ended = datetime.fromtimestamp(int(record["end"]), UTC)  # type: ignore[call-overload]
    volume, total_after = float(record["volume"]), float(record["volume_total"])  # type: ignore[arg-type]
    number = int(record["transaction"])  # type: ignore[call-overload]
    return CloudEvent(
        id=fueling_event_id(station, pump, fuelling_point, number, started),
        source=f"forecourt/{station}/{pump}", type=FUELING_COMPLETED, time=ended,
        subject=f"{pump}/fp{fuelling_point}/{number}",
        data={"station": station, "pump": pump, "fuelling_point": fuelling_point, "nozzle": record["nozzle"],
              "grade": record["grade"], "transaction": number, "volume_l": volume,
              "amount_fen": record["amount"], "price_fen_per_l": record["price"],
              "totalizer_before_l": round(total_after - volume, 2), "totalizer_after_l": total_after,
              "started_at": started.isoformat(), "ended_at": ended.isoformat(), "end_reason": record["end_reason"]},
    )


def completed_fuelings(station: str, pump: str, fuelling_points: int, before: dict[str, Reading],
                       after: dict[str, Reading]) -> list[CloudEvent]:
    """Events for every fuelling point whose last-transaction number differs between two reads.

    ``before`` empty (first read after start) counts as different: a transaction that ended while
    the edge node was down is reported then (its id makes a repeat harmless).
    """
    events = []
    for n in range(1, fuelling_points + 1):
        fields = {f: after.get(f"fp{n}/last/{f}") for f in _FIELDS}
        number = fields["transaction"]
        if number is None or number.quality is not Quality.GOOD or not number.value:
            continue
        if any(r is None or r.quality is not Quality.GOOD for r in fields.values()):
            continue
        prev = before.get(f"fp{n}/last/transaction")
        if prev is not None and prev.value == number.value:
            continue
        events.append(fueling_event(station, pump, n, {f: r.value for f, r in fields.items() if r is not None}))
    return events
