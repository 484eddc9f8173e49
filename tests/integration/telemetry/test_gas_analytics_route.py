"""``GET /api/v1/stations/{s}/gas-analytics`` over real HTTP and PostgreSQL, on telemetry written from the gas
skid simulator's model (report by exception: a point only when the value changes, as the edge node sends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from simulators.gas_skid.config import CompressorConfig, GasSkidConfig
from simulators.gas_skid.model import GasSkidModel
from telemetry.records import MetricDef, PointRow
from telemetry.storage.repository import TelemetryWriter
from tests.integration.api.support import client, running_api

pytestmark = pytest.mark.integration
NAMES = {"compressor/state": "INT32", "cng1/state": "INT32", "cng1/active_bank": "INT32", "cng2/state": "INT32",
         "cng2/active_bank": "INT32",
         "cascade/low/pressure": "DOUBLE", "cascade/mid/pressure": "DOUBLE", "cascade/high/pressure": "DOUBLE",
         "lng_tank/pressure": "DOUBLE"}


def _readings(model: GasSkidModel) -> dict[str, float]:
    one, two = model.cng(1), model.cng(2)
    return {"compressor/state": int(model.compressor.state), "cng1/state": int(one.state),
            "cng1/active_bank": int(one.active_bank), "cng2/state": int(two.state),
            "cng2/active_bank": int(two.active_bank), "cascade/low/pressure": round(model.cascade.pressure_g(1), 3),
            "cascade/mid/pressure": round(model.cascade.pressure_g(2), 3),
            "cascade/high/pressure": round(model.cascade.pressure_g(3), 3),
            "lng_tank/pressure": round(model.lng_tank.pressure_g, 4)}


async def test_figures_over_http(database_url: str) -> None:
    model = GasSkidModel(GasSkidConfig(seed=2, compressor=CompressorConfig(start_g_mpa=24.0)))   # starts early
    model.start_compressor()
    model.lose_lng_vacuum()
    model.advance(6 * 3600)                          # the annulus pressure levels off: a steady fast heat leak
    start = datetime.now(UTC) - timedelta(hours=2)
    rows: list[PointRow] = []
    last: dict[str, float] = {}
    fills = 0
    run_hours = model.compressor.run_hours
    for second in range(0, 7200, 2):
        if second % 300 == 0 and second < 3600:      # a car at each dispenser every 5 minutes for an hour
            for n in (1, 2):
                model.cng(n).reset()
                model.start_cng_fill(n)
                fills += 1
        model.advance(2)
        for name, value in _readings(model).items():
            if last.get(name) != value:
                rows.append(PointRow("st-01", "skid-01", name, start + timedelta(seconds=second + 2), value, None,
                                     "good", None, False))
                last[name] = value
    ran_s = (model.compressor.run_hours - run_hours) * 3600
    writer = TelemetryWriter()
    async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
        await writer.metric_ids(conn, [MetricDef("g", "st-01", "skid-01", n, t, None) for n, t in NAMES.items()])
        await writer.write_points(conn, rows)

    async with running_api(database_url) as port, client(port, "device:read") as http:
        asked = datetime.now(UTC)   # the compressor's state is known from its first reading until now
        body = (await http.get("/api/v1/stations/st-01/gas-analytics", params={"hours": 3})).json()
        assert [s["device"] for s in body["skids"]] == ["skid-01"]
        skid = body["skids"][0]
        assert skid["cascade"]["fills"] == fills
        assert skid["cascade"]["banks"][0]["bank"] == "low" and skid["cascade"]["banks"][0]["fills"] == fills
        assert ran_s > 600 and skid["compressor"]["running_s"] == pytest.approx(ran_s, abs=10)
        assert skid["compressor"]["starts"] >= 1
        known_s = (asked - (start + timedelta(seconds=2))).total_seconds()    # 7198 s and the time taken since
        assert skid["compressor"]["known_s"] == pytest.approx(known_s, abs=5)
        held = skid["lng_holding_time"]
        assert held["rise_kpa_per_h"] > 0 and 0 < held["hours_to_relief_saturated"] < held["hours_to_relief"]
        missing = await http.get("/api/v1/stations/st-01/gas-analytics", params={"device": "nope"})
        assert missing.status_code == 404 and "没有上报" in missing.json()["detail"]
    async with running_api(database_url) as port, client(port, "report:read") as http:
        assert (await http.get("/api/v1/stations/st-01/gas-analytics")).status_code == 403
