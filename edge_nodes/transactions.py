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
        v = {f: r.value for f, r in fields.items() if r is not None}
        started = datetime.fromtimestamp(int(v["start"]), UTC)  # type: ignore[arg-type]
        ended = datetime.fromtimestamp(int(v["end"]), UTC)  # type: ignore[arg-type]
        volume, total_after = float(v["volume"]), float(v["volume_total"])  # type: ignore[arg-type]
        events.append(CloudEvent(
            id=fueling_event_id(station, pump, n, int(number.value), started),
            source=f"forecourt/{station}/{pump}", type=FUELING_COMPLETED, time=ended,
            subject=f"{pump}/fp{n}/{number.value}",
            data={"station": station, "pump": pump, "fuelling_point": n, "nozzle": v["nozzle"],
                  "grade": v["grade"], "transaction": number.value, "volume_l": volume,
                  "amount_fen": v["amount"], "price_fen_per_l": v["price"],
                  "totalizer_before_l": round(total_after - volume, 2), "totalizer_after_l": total_after,
                  "started_at": started.isoformat(), "ended_at": ended.isoformat(), "end_reason": v["end_reason"]},
        ))
    return events
