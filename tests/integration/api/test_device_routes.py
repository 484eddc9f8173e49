"""The control API over real HTTP and WebSocket against a real database."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import psycopg
import pytest
import websockets

from forecourt.local import free_port, wait_for_port
from forecourt.services import api_service
from telemetry.records import MetricDef, PointRow, SourceStatus
from telemetry.storage.repository import TelemetryWriter
from tests.integration.api.support import client, ws_token
from tests.support.auth import TEST_TOKENS

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def api(database_url: str) -> AsyncIterator[int]:
    port = free_port()
    task = asyncio.create_task(api_service(database_url, "127.0.0.1", port, tokens=TEST_TOKENS))
    await wait_for_port("127.0.0.1", port)
    try:
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _write(database_url: str, volume: float, ts: datetime, *, with_state: bool = True) -> None:
    writer = TelemetryWriter()
    async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
        await writer.metric_ids(conn, [MetricDef("g", "st-01", "disp-01", "fp1/volume", "DOUBLE", "L"),
                                       MetricDef("g", "st-01", "disp-01", "fp1/state", "INT64", None)])
        rows = [PointRow("st-01", "disp-01", "fp1/volume", ts, volume, None, "good", None, False)]
        if with_state:
            rows.append(PointRow("st-01", "disp-01", "fp1/state", ts, 8.0, None, "good", None, False))
        await writer.write_points(conn, rows)
        await writer.set_status(conn, [SourceStatus("g", "st-01", "disp-01", True, False, None)])
        await writer.notify(conn, [("st-01", "disp-01")])


async def test_latest_and_stream(database_url: str) -> None:
    await _write(database_url, 1.25, datetime(2026, 1, 1, 8, 0, tzinfo=UTC))
    async with api(database_url) as port, client(port, "device:read") as http:
        missing = await http.get("/api/v1/stations/st-01/devices/nope/latest")
        assert missing.status_code == 404 and "没有上报过数据" in missing.json()["detail"]

        body = (await http.get("/api/v1/stations/st-01/devices/disp-01/latest")).json()
        assert body["online"] is True and body["stale"] is False
        assert body["values"]["fp1/volume"] == {"value": 1.25, "unit": "L", "quality": "good", "reason": None,
                                                "ts": "2026-01-01T08:00:00Z"}
        assert body["values"]["fp1/state"]["value"] == 8 and isinstance(body["values"]["fp1/state"]["value"], int)

        url = f"ws://127.0.0.1:{port}/api/v1/stations/st-01/devices/disp-01/stream"
        async with websockets.connect(f"{url}?access_token={ws_token('device:read')}") as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert snapshot["type"] == "snapshot" and snapshot["values"]["fp1/volume"]["value"] == 1.25
            await _write(database_url, 2.5, datetime(2026, 1, 1, 8, 0, 1, tzinfo=UTC), with_state=False)
            update = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert update["type"] == "update"
            assert update["values"]["fp1/volume"]["value"] == 2.5
            assert "fp1/state" not in update["values"]        # unchanged values are not sent again

        metrics = await http.get("/metrics")
        assert metrics.status_code == 200 and "python_info" in metrics.text
        health = (await http.get("/healthz")).json()
        assert health["checks"]["database"] == {"ok": True, "detail": "ok"} and health["service"] == "api"
