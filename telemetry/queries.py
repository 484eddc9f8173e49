"""Read side used by the control API: latest values of a device and the status of its source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True, slots=True)
class LatestValue:
    name: str
    value: float | str | None
    unit: str | None
    quality: str
    reason: str | None
    ts: datetime


@dataclass(frozen=True, slots=True)
class DeviceLatest:
    station: str
    device: str
    online: bool | None
    stale: bool | None
    status_reason: str | None
    values: tuple[LatestValue, ...]


def _typed(value: float | None, text: str | None, datatype: str) -> float | int | bool | str | None:
    if text is not None:
        return text
    if value is None:
        return None
    if datatype == "BOOLEAN":
        return value != 0
    if datatype.startswith(("INT", "UINT")):
        return int(value)
    return value


async def device_latest(conn: psycopg.AsyncConnection, station: str, device: str) -> DeviceLatest | None:
    """Latest value of every metric of one device, or None when the device has never reported."""
    cur = await conn.execute(
        """SELECT m.name, m.datatype, m.unit, l.value, l.value_text, l.quality, l.reason, l.ts
           FROM telemetry.metrics m JOIN telemetry.latest l USING (metric_id)
           WHERE m.station = %s AND m.device = %s ORDER BY m.name""", (station, device))
    rows = await cur.fetchall()
    status = await (await conn.execute(
        "SELECT online, stale, reason FROM telemetry.sources WHERE station = %s AND device = %s",
        (station, device))).fetchone()
    if not rows and status is None:
        return None
    values = tuple(LatestValue(name, _typed(value, text, datatype), unit, quality, reason, ts)
                   for name, datatype, unit, value, text, quality, reason, ts in rows)
    online, stale, reason = status if status is not None else (None, None, None)
    return DeviceLatest(station, device, online, stale, reason, values)
