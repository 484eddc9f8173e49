"""The vision service against the real lane-camera simulator (HTTP snapshots and an MJPEG stream through OpenCV)
and the real broker: a camera that disappears is reconnected (counted), a frozen camera's frames are counted
skips, models that do not load leave the service up and unhealthy; an entry camera's event reaches head office's
consumer over MQTT and becomes one passage on the vehicle, once, however often it is published."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from forecourt.roles import Role, policy
from forecourt.settings import Settings
from protocol_adapters.mqtt.outbox import MqttSink
from simulators.camera import CameraConfig, CameraServer, CameraSetConfig, OfflineMode
from simulators.camera.config import DEFAULT_SCENES_DIR
from simulators.clock import ManualClock
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.vision import VehicleRecognized
from tests.support.events import running, wait_for
from vision.cameras import CameraBinding
from vision.models import DEFAULT_MODEL_DIR
from vision.service import (
    FRAMES,
    RECONNECTS,
    SKIPPED,
    EventQueue,
    PlateReader,
    VisionService,
    vision_for_station,
)
from vision.snapshots import SnapshotStore

pytestmark = pytest.mark.integration

CONFIG = CameraSetConfig(scenes_dir=DEFAULT_SCENES_DIR, cameras=(
    CameraConfig(code="VS-01", fuelling_point=1, fps=25.0, width=160, height=120),
    CameraConfig(code="VS-02", fuelling_point=2, fps=25.0, width=160, height=120)))


def value(counter: object, *labels: str) -> float:
    return counter.labels(*labels)._value.get()  # type: ignore[attr-defined]


async def above(than: float, counter: object, *labels: str) -> bool:
    return value(counter, *labels) > than


def models_with_a_wrong_hash() -> PlateReader:
    raise ValueError("plate_detect_y5fu_320.onnx: SHA-256 mismatch")


@contextlib.asynccontextmanager
async def serving(service: VisionService) -> AsyncIterator[None]:
    task = asyncio.create_task(service.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_cameras_that_freeze_or_disappear_are_counted_and_reconnected_never_a_crash(tmp_path: Path) -> None:
    async def nowhere(_: object) -> None:
        raise AssertionError("nothing is recognised without models")

    async with CameraServer(CONFIG, ManualClock()) as cameras:
        bindings = [CameraBinding("VS-01", f"{cameras.base_url}/cameras/VS-01/snapshot.jpg", fuelling_point=1),
                    CameraBinding("VS-02", f"{cameras.base_url}/cameras/VS-02/stream.mjpg", fuelling_point=2)]
        service = VisionService("st-01", bindings, models_with_a_wrong_hash, nowhere, SnapshotStore(tmp_path),
                                now=lambda: datetime.now(UTC), frame_interval_s=0.02, backoff_s=(0.05, 0.2))
        frames = {code: value(FRAMES, code) for code in ("VS-01", "VS-02")}
        reconnects, frozen = value(RECONNECTS, "VS-01"), value(SKIPPED, "VS-01", "frozen")
        async with serving(service):
            async def both_read() -> bool:
                return all(value(FRAMES, code) > frames[code] + 3 for code in frames)

            await wait_for(both_read)
            report = service.health()
            assert report["status"] == "degraded"            # cameras up, models not
            assert "SHA-256 mismatch" in str(report["checks"]["models"]["detail"])

            cameras.faults.frozen("VS-01")
            async def frozen_counted() -> bool:
                return value(SKIPPED, "VS-01", "frozen") > frozen + 2

            await wait_for(frozen_counted)
            cameras.faults.clear("VS-01")

            cameras.faults.offline("VS-01", OfflineMode.HTTP_503)
            cameras.faults.offline("VS-02", OfflineMode.DROP)
            async def lost() -> bool:
                return not any(state.connected for state in service.cameras.values())

            await wait_for(lost)
            assert "503" in str(service.health()["checks"]["camera VS-01"]["detail"])
            cameras.faults.clear()
            async def back() -> bool:
                return all(state.connected for state in service.cameras.values())

            await wait_for(back)
            assert value(RECONNECTS, "VS-01") > reconnects
            read_after = value(FRAMES, "VS-02")
            await wait_for(lambda: above(read_after, FRAMES, "VS-02"))




async def test_an_entry_cameras_recognition_is_one_passage_at_head_office(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    seen = VehicleRecognized(station="st-01", camera="GATE-IN", direction="entry", plate="皖AY339S", colour="blue",
                             confidence=0.987, frames=3, seen_at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC),
                             snapshot="st-01/GATE-IN/2026/12/05/080000.000000.jpg")
    event = seen.envelope(source="forecourt/vision/st-01", event_id=seen.event_id(), time=seen.seen_at)
    consumer = EventConsumer(database_url, broker, client_id=f"ho-{group}", group=group,
                             bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    queue = EventQueue(MqttSink(broker, f"vision-{group}"), group, "st-01")
    sender = asyncio.create_task(queue.run())
    try:
        async with running(consumer), await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
            await queue.put(event)
            await queue.put(event)                          # published twice: one passage
            async def recorded() -> bool:
                return bool(await (await db.execute(
                    "SELECT 1 FROM business.vehicle_passages WHERE plate = '皖AY339S'")).fetchone())

            await wait_for(recorded)
            await asyncio.sleep(0.3)
            rows = await (await db.execute(
                "SELECT station, lane, direction, source, confidence::float8, at FROM business.vehicle_passages"
            )).fetchall()
            assert rows == [("st-01", "GATE-IN", "entry", "vision", 0.987, seen.seen_at)]
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


async def test_a_station_file_with_a_model_of_the_wrong_hash_runs_unhealthy_and_names_the_file(
        tmp_path: Path, broker: BrokerAddress, group: str) -> None:
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODEL_DIR / "plate", models / "plate")
    (models / "plate" / "plate_detect_y5fu_320.onnx").write_bytes(b"not the model")
    async with CameraServer(CONFIG, ManualClock()) as cameras:
        station_file = tmp_path / "station.yaml"
        station_file.write_text(yaml.safe_dump({"station": "st-01", "name": "测试站", "timezone": "Asia/Shanghai",
                                                "devices": [{"code": "cam-02", "protocol": "camera",
                                                             "url": f"{cameras.base_url}/cameras/VS-02/snapshot.jpg",
                                                             "fuelling_point": 2}]}), encoding="utf-8")
        settings = Settings(data_dir=tmp_path / "data", vision_models=models, group=group)
        service, queue, sweep = vision_for_station(settings, station_file, broker)
        sweep.close()                                   # the daily sweep is tested on its own
        no_model = value(SKIPPED, "cam-02", "no_model")
        async with serving(service):
            await wait_for(lambda: above(no_model + 2, SKIPPED, "cam-02", "no_model"))
            detail = str(service.health()["checks"]["models"]["detail"])
            assert "plate_detect_y5fu_320.onnx" in detail and "SHA-256" in detail
            assert service.health()["checks"]["camera cam-02"]["ok"]
        assert not queue.connected and not (tmp_path / "data" / "vision" / "snapshots").exists()

