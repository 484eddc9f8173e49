"""Charging sessions, tank deliveries and gas fills as CloudEvents (pure), each with an id from its natural key.

Each builds its payload model from ``telemetry.contracts.events`` (the consumer parses with the same
model). A finished OCPP charging session becomes ``ChargingCompleted`` when the central system
accepted its id tag — an ordinary sale — and ``ChargingRefused`` otherwise (the tag was Invalid /
Unknown / Blocked / Expired, ConcurrentTx, or no token was ever presented), with ``energy_flowed``
when energy flowed anyway. ``DeliveryCompleted`` comes from a tank gauge's newest delivery record
changing, ``GasFillCompleted`` from a gas dispenser reaching *complete*. As with fuellings, seeing
the same session, delivery or fill again gives the same event id, so consumers stay idempotent.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime

from pydantic import ValidationError

from edge_nodes import metrics
from protocol_adapters.ocpp.sessions import ChargingSession
from protocol_adapters.readings import Reading
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.charging import ChargingCompleted, ChargingRefused
from telemetry.contracts.events.delivery import DeliveryCompleted
from telemetry.contracts.events.gas import GasFillCompleted
from telemetry.contracts.quality import Quality

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("0b9c7d52-3f5e-4f5a-8f62-6a6c2f1d9e47")
_DELIVERY_END = re.compile(r"^tank(\d+)/last_delivery_end$")


def charging_completed(station: str, csms: str, s: ChargingSession) -> CloudEvent:
    """The session's event: ``charging.completed`` when its id tag was accepted, else ``charging.refused``."""
    key = f"{station}/{s.charge_point}/{s.transaction_id}/{s.start_time.isoformat()}"
    fields: dict[str, object] = {
        "station": station, "charge_point": s.charge_point, "connector": s.connector,
        "transaction": s.transaction_id, "id_tag": s.id_tag, "id_tag_status": s.id_tag_status or None,
        "started_at": s.start_time, "ended_at": s.stop_time, "meter_start_wh": s.meter_start_wh,
        "meter_stop_wh": s.meter_stop_wh, "energy_kwh": s.energy_kwh, "stop_reason": s.stop_reason}
    payload = (ChargingCompleted.model_validate(fields) if s.authorised else
               ChargingRefused.model_validate(fields | {"energy_flowed": s.energy_kwh > 0}))
    return payload.envelope(event_id=str(uuid.uuid5(_NAMESPACE, key)), source=f"forecourt/{station}/{csms}",
                            time=s.stop_time, subject=f"{s.charge_point}/{s.connector}/{s.transaction_id}")


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
        try:
            delivery = DeliveryCompleted.model_validate({
                "station": station, "gauge": gauge, "tank": tank, "ended_at": ended,
                "volume_l": volume.value if volume is not None else None})
        except ValidationError as exc:
            unbuildable(DeliveryCompleted.TYPE, f"{gauge} tank {tank}", exc)
            continue
        events.append(delivery.envelope(
            event_id=str(uuid.uuid5(_NAMESPACE, f"{station}/{gauge}/tank{tank}/{ended.isoformat()}")),
            source=f"forecourt/{station}/{gauge}", time=ended, subject=f"{gauge}/tank{tank}"))
    return events


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
        try:
            fill = GasFillCompleted.model_validate({
                "station": station, "skid": skid, "product": kind.upper(), "dispenser": n,
                "transaction": v["transaction"], "mass_kg": v["mass"], "amount_fen": v["amount"],
                "price_fen_per_kg": v["price"], "totalizer_after_kg": v["totalizer"],
                "stop_reason": v["stop_reason"], "ended_at": state.source_time})
        except ValidationError as exc:
            unbuildable(GasFillCompleted.TYPE, f"{skid} {kind}{n}", exc)
            continue
        events.append(fill.envelope(event_id=str(uuid.uuid5(_NAMESPACE, key_text)),
                                    source=f"forecourt/{station}/{skid}", time=state.source_time,
                                    subject=f"{skid}/{kind}{n}/{v['transaction']}"))
    return events


def unbuildable(event_type: str, what: str, exc: ValidationError) -> None:
    """A device record that breaks its payload's rules: counted and logged, and skipped."""
    metrics.EVENTS_UNBUILDABLE.labels(event_type).inc()
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
    log.error("no %s event for %s: the device's record breaks its rules (%s)", event_type, what, problems)
