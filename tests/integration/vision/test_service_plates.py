"""The vision service with the real plate models and the real lane-camera simulator: a labelled CCPD scene shown at
fuelling position 2 gives one ``vehicle.recognized`` for position 2 with the scene's plate on the station's event
topic (real broker), with its snapshot in the store; the empty lane at position 1 (HTTP snapshots) gives none,
the car's lane is read from the MJPEG stream through OpenCV."""

from __future__ import annotations

import asyncio
import contextlib
import csv
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from protocol_adapters.mqtt.outbox import MqttSink
from simulators.camera import CameraConfig, CameraServer, CameraSetConfig
from simulators.camera.config import DEFAULT_SCENES_DIR
from simulators.clock import ManualClock
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.vision import VehicleRecognized
from telemetry.contracts.topics import events_filter
from vision.cameras import CameraBinding
from vision.models import DEFAULT_MODEL_DIR, ModelStore
from vision.service import EventQueue, VisionService, plate_reader
from vision.snapshots import SnapshotStore

pytestmark = pytest.mark.integration

SCENE = "ccpd_003.jpg"
LABELS = DEFAULT_SCENES_DIR.parent / "labels.csv"


def labelled_plate(scene: str) -> tuple[str, str]:
    with LABELS.open(encoding="utf-8") as rows:
        row = next(r for r in csv.DictReader(rows) if r["file"] == f"scenes/{scene}")
    return row["plate"], row["color"]


async def test_a_scene_at_fuelling_position_2_is_one_vehicle_recognized_with_its_plate(
        tmp_path: Path, broker: BrokerAddress, group: str) -> None:
    plate, colour = labelled_plate(SCENE)
    config = CameraSetConfig(scenes_dir=DEFAULT_SCENES_DIR, cameras=(
        CameraConfig(code="CAM-01", fuelling_point=1, fps=10.0), CameraConfig(code="CAM-02", fuelling_point=2,
                                                                              fps=10.0)))
    store = ModelStore(DEFAULT_MODEL_DIR)
    async with CameraServer(config, ManualClock()) as cameras, \
            aiomqtt.Client(identifier=f"watch-{group}", **broker.client_kwargs()) as watch:
        await watch.subscribe(events_filter(group, "st-01"), qos=1)
        queue = EventQueue(MqttSink(broker, f"vision-{group}"), group, "st-01")
        lanes = [CameraBinding("CAM-01", f"{cameras.base_url}/cameras/CAM-01/snapshot.jpg", fuelling_point=1),
                 CameraBinding("CAM-02", f"{cameras.base_url}/cameras/CAM-02/stream.mjpg", fuelling_point=2)]
        service = VisionService("st-01", lanes,
                                lambda: plate_reader(store), queue.put, SnapshotStore(tmp_path),
                                now=lambda: datetime.now(UTC), frame_interval_s=0.05)
        running = [asyncio.create_task(service.run()), asyncio.create_task(queue.run())]
        try:
            cameras.camera("CAM-02").car_arrived(SCENE)
            received: list[CloudEvent] = []

            async def collect() -> None:
                async for message in watch.messages:
                    received.append(CloudEvent.from_bytes(bytes(message.payload)))  # type: ignore[arg-type]

            collector = asyncio.create_task(collect())
            async with asyncio.timeout(60):
                while not received:
                    await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)        # the car stays: more frames of it, and no second event
            collector.cancel()
        finally:
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert [e.type for e in received] == ["vehicle.recognized"]
    seen = VehicleRecognized.from_event(received[0])
    assert (seen.station, seen.camera, seen.fuelling_point, seen.plate, seen.colour) == (
        "st-01", "CAM-02", 2, plate, colour)
    assert seen.frames >= 2 and seen.confidence >= 0.8
    assert received[0].id == seen.event_id()
    assert (tmp_path / seen.snapshot).read_bytes()[:2] == b"\xff\xd8"
