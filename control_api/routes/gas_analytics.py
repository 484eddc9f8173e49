"""Gas-side figures from telemetry: ``GET /api/v1/stations/{station}/gas-analytics``.

Per gas skid at the station: the LNG tank's holding time (time to relief pressure at the current rate of
rise, and along the saturation curve), the CNG cascade's bank usage (which bank supplied how many fills, for how
long, with what pressure drop per fill) and the compressor's duty (running fraction, starts per hour) over the
last ``hours``. Needs ``device:read`` at the station. docs/gas-analytics.md.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from control_api.deps import Db, Station
from control_api.security import Principal, at_station
from telemetry.analytics import gas
from telemetry.analytics.gas_queries import gas_devices, skid_figures

router = APIRouter(prefix="/api/v1/stations/{station}/gas-analytics", tags=["gas-analytics"])
Reader = Annotated[Principal, Depends(at_station("device:read"))]


class SkidAnalytics(BaseModel):
    device: str
    lng_holding_time: dict[str, Any] | None
    cascade: dict[str, Any] | None
    compressor: dict[str, Any] | None


class GasAnalytics(BaseModel):
    station: str
    start: datetime
    end: datetime
    skids: list[SkidAnalytics]


@router.get("", response_model=GasAnalytics, summary="LNG 储罐保压时间、CNG 储气井组使用、压缩机负荷")
async def gas_analytics(
        station: Station, who: Reader, db: Db,
        hours: Annotated[float, Query(gt=0, le=24 * 31, description="统计时长（小时） (window, hours)")] = 24,
        relief_g_mpa: Annotated[float, Query(ge=0.3, le=1.6, description="LNG 储罐安全阀起跳压力 MPa（表压）")]
        = gas.RELIEF_G_MPA,
        device: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                                            description="设备编码 (one gas skid; default all)")] = None,
) -> GasAnalytics:
    end = datetime.now(UTC)
    start = end - timedelta(hours=hours)
    async with db.connection() as conn:
        devices = await gas_devices(conn, station)
        if device is not None:
            if device not in devices:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"设备 {device} 没有上报加气撬数据 "
                                                               "(this device reports no gas skid metrics)")
            devices = [device]
        figures = [await skid_figures(conn, station, d, start, end, relief_g_mpa) for d in devices]
    return GasAnalytics(station=station, start=start, end=end, skids=[
        SkidAnalytics(device=f.device,
                      lng_holding_time=dataclasses.asdict(f.holding) if f.holding else None,
                      cascade=dataclasses.asdict(f.cascade) if f.cascade else None,
                      compressor=dataclasses.asdict(f.compressor) if f.compressor else None)
        for f in figures])
