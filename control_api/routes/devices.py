"""Device telemetry: latest values over REST, and a WebSocket that streams changes.

Both need ``device:read`` and the station in the caller's scope; the WebSocket takes its token as the
``access_token`` query parameter and is closed with 4401 (no valid login) or 4403 (not allowed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel

from control_api.database import DatabaseUnavailable
from control_api.deps import Db, Device, Station, WsHub
from control_api.live import wait_or_disconnect
from control_api.security import Principal, require
from telemetry.queries import DeviceLatest, device_latest

router = APIRouter(prefix="/api/v1/stations/{station}/devices/{device}", tags=["devices"])


class ValuePublic(BaseModel):
    value: float | int | bool | str | None
    unit: str | None
    quality: str
    reason: str | None
    ts: datetime


class DeviceLatestPublic(BaseModel):
    station: str
    device: str
    online: bool | None
    stale: bool | None
    status_reason: str | None
    values: dict[str, ValuePublic]

    @classmethod
    def of(cls, latest: DeviceLatest) -> DeviceLatestPublic:
        return cls(station=latest.station, device=latest.device, online=latest.online, stale=latest.stale,
                   status_reason=latest.status_reason,
                   values={v.name: ValuePublic(value=v.value, unit=v.unit, quality=v.quality, reason=v.reason,
                                               ts=v.ts) for v in latest.values})


@router.get("/latest", response_model=DeviceLatestPublic)
async def latest(station: Station, device: Device, db: Db,
                 who: Annotated[Principal, Depends(require("device:read"))]) -> DeviceLatestPublic:
    who.check_station(station)
    async with db.connection() as conn:
        found = await device_latest(conn, station, device)
    if found is None:
        raise HTTPException(404, f"设备 {station}/{device} 没有上报过数据 (no data from this device yet)")
    return DeviceLatestPublic.of(found)


@router.websocket("/stream")
async def stream(websocket: WebSocket, station: Station, device: Device, db: Db, hub: WsHub,
                 who: Annotated[Principal, Depends(require("device:read"))]) -> None:
    """Sends ``{"type": "snapshot", ...}`` first, then ``{"type": "update", "values": {changed}}``."""
    who.check_station(station, websocket)
    await websocket.accept()
    wake = hub.subscribe((station, device))
    sent: dict[str, ValuePublic] = {}
    try:
        first = True
        while True:
            async with db.connection() as conn:
                found = await device_latest(conn, station, device)
            if found is not None:
                body = DeviceLatestPublic.of(found)
                changed = {k: v for k, v in body.values.items() if sent.get(k) != v}
                if first or changed:
                    message = body.model_dump(mode="json") if first else {
                        "type": "update", "station": station, "device": device, "online": body.online,
                        "stale": body.stale, "values": {k: v.model_dump(mode="json") for k, v in changed.items()}}
                    if first:
                        message["type"] = "snapshot"
                    await websocket.send_json(message)
                    sent.update(changed)
                    first = False
            await wait_or_disconnect(websocket, wake.get())
    except WebSocketDisconnect:
        pass
    except DatabaseUnavailable:
        await websocket.close(status.WS_1013_TRY_AGAIN_LATER, "数据库暂时不可用 (database unavailable; retry later)")
    finally:
        hub.unsubscribe((station, device), wake)

