"""Charging sessions and tank deliveries as CloudEvents (pure), each with an id from its natural key.

A finished OCPP charging session becomes ``charging.completed`` when the central system accepted its
id tag — an ordinary sale — and ``charging.refused`` otherwise: the tag was Invalid / Unknown /
Blocked / Expired (or ConcurrentTx, or no token was ever presented). The charger is told the tag is
refused and should stop, so a refused session normally carries no energy; when energy flowed anyway
(a pile that started offline and learnt the verdict later) it is reported there with ``energy_kwh``
and ``energy_flowed: true``, for the station to follow up, and never billed as a normal sale. Both
carry ``id_tag_status``. ``delivery.completed`` comes from a tank gauge's newest delivery record
changing. As with fuellings, seeing the same session or delivery again gives the same event id, so
consumers stay idempotent.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from protocol_adapters.ocpp.sessions import ChargingSession
from protocol_adapters.readings import Reading
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.quality import Quality

CHARGING_COMPLETED = "charging.completed"
CHARGING_REFUSED = "charging.refused"
DELIVERY_COMPLETED = "delivery.completed"
_NAMESPACE = uuid.UUID("0b9c7d52-3f5e-4f5a-8f62-6a6c2f1d9e47")
_DELIVERY_END = re.compile(r"^tank(\d+)/last_delivery_end$")


def charging_completed(station: str, csms: str, s: ChargingSession) -> CloudEvent:
    """The session's event: ``charging.completed`` when its id tag was accepted, else ``charging.refused``."""
    key = f"{station}/{s.charge_point}/{s.transaction_id}/{s.start_time.isoformat()}"
    data: dict[str, object] = {
        "station": station, "charge_point": s.charge_point, "connector": s.connector,
        "transaction": s.transaction_id, "id_tag": s.id_tag, "id_tag_status": s.id_tag_status or None,
        "started_at": s.start_time.isoformat(), "ended_at": s.stop_time.isoformat(),
        "meter_start_wh": s.meter_start_wh, "meter_stop_wh": s.meter_stop_wh, "energy_kwh": s.energy_kwh,
        "stop_reason": s.stop_reason}
    if not s.authorised:
        data["energy_flowed"] = s.energy_kwh > 0
    return CloudEvent(
        id=str(uuid.uuid5(_NAMESPACE, key)), source=f"forecourt/{station}/{csms}",
        type=CHARGING_COMPLETED if s.authorised else CHARGING_REFUSED,
        time=s.stop_time, subject=f"{s.charge_point}/{s.connector}/{s.transaction_id}", data=data)


def completed_deliveries(station: str, gauge: str, before: dict[str, Reading],
                         after: dict[str, Reading]) -> list[CloudEvent]:
    """An event for every tank whose newest delivery record is new since the last read."""
    events = []
    for key, end in after.items():
        match = _DELIVERY_END.match(key)
        if match is None or end.quality is not Quality.GOOD or not end.value:
            continue
        previous = before.get(key)
        if previous is not None and previous.value == end.value:
            continue
        tank = int(match.group(1))
        volume = after.get(f"tank{tank}/last_delivery_volume")
        ended = datetime.fromtimestamp(int(end.value), UTC)
        events.append(CloudEvent(
            id=str(uuid.uuid5(_NAMESPACE, f"{station}/{gauge}/tank{tank}/{ended.isoformat()}")),
            source=f"forecourt/{station}/{gauge}", type=DELIVERY_COMPLETED, time=ended,
            subject=f"{gauge}/tank{tank}",
            data={"station": station, "gauge": gauge, "tank": tank, "ended_at": ended.isoformat(),
                  "volume_l": volume.value if volume is not None else None}))
    return events


GAS_FILL_COMPLETED = "gas_fill.completed"
_GAS_STATE = re.compile(r"^(cng|lng)(\d+)/state$")
_COMPLETE = {"cng": 2, "lng": 3}   # gas skid state codes (docs/protocols/gas-skid-opcua.md)


def completed_gas_fills(station: str, skid: str, before: dict[str, Reading],
                        after: dict[str, Reading]) -> list[CloudEvent]:
    """A CNG or LNG dispenser that has just reached *complete*: one event per fill, keyed by its number and
    the mass totalizer after it (monotonic, so the key stays unique across a controller restart)."""
    events = []
    for key, state in after.items():
        match = _GAS_STATE.match(key)
        if match is None or state.quality is not Quality.GOOD or state.value != _COMPLETE[match.group(1)]:
            continue
        previous = before.get(key)
        if previous is not None and previous.value == state.value:
            continue
        kind, n = match.group(1), int(match.group(2))
        values = {f: after.get(f"{kind}{n}/{f}") for f in ("transaction", "mass", "amount", "price", "totalizer",
                                                           "stop_reason")}
        if any(r is None or r.quality is not Quality.GOOD for r in values.values()):
            continue
        v = {f: r.value for f, r in values.items() if r is not None}
        key_text = f"{station}/{skid}/{kind}{n}/{v['transaction']}/{v['totalizer']}"
        events.append(CloudEvent(
            id=str(uuid.uuid5(_NAMESPACE, key_text)), source=f"forecourt/{station}/{skid}", type=GAS_FILL_COMPLETED,
            time=state.source_time, subject=f"{skid}/{kind}{n}/{v['transaction']}",
            data={"station": station, "skid": skid, "product": kind.upper(), "dispenser": n,
                  "transaction": v["transaction"], "mass_kg": v["mass"], "amount_fen": v["amount"],
                  "price_fen_per_kg": v["price"], "totalizer_after_kg": v["totalizer"],
                  "stop_reason": v["stop_reason"], "ended_at": state.source_time.isoformat()}))
    return events
