"""The vision service's pure parts and its frame handling with a fake plate reader: once per car, voting, skips
counted (empty, corrupt, frozen, reader failure, models that did not load), the snapshot store and its sweep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.vision import VehicleRecognized
from vision.cameras import CameraBinding, Frame, Image, decode
from vision.readings import PlateReading
from vision.service import SKIPPED, LaneTracker, VisionService
from vision.snapshots import SnapshotStore

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
BOX = (0.0, 0.0, 10.0, 5.0)
CORNERS = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))


def plate(text: str, confidence: float = 0.95, colour: str = "blue", uncertain: bool = False) -> PlateReading:
    return PlateReading(text, colour, confidence, BOX, CORNERS, uncertain=uncertain)


def test_a_car_is_announced_once_when_two_frames_agree() -> None:
    lane = LaneTracker()
    assert lane.observe([plate("皖AY339S")]) is None
    sighting = lane.observe([plate("皖AY339S", 0.9)])
    assert sighting is not None and (sighting.reading.text, sighting.frames) == ("皖AY339S", 2)
    assert all(lane.observe([plate("皖AY339S")]) is None for _ in range(10))


def test_the_same_car_after_an_empty_lane_is_a_new_car_but_not_after_a_short_gap() -> None:
    lane = LaneTracker(empty_frames=3)
    lane.observe([plate("皖AY339S")])
    assert lane.observe([plate("皖AY339S")]) is not None
    lane.observe([])
    lane.observe([])
    assert lane.observe([plate("皖AY339S")]) is None      # two empty frames: the same car still
    for _ in range(3):
        lane.observe([])
    lane.observe([plate("皖AY339S")])
    assert lane.observe([plate("皖AY339S")]) is not None   # empty for three frames: a new car


def test_a_changed_reading_is_a_new_car_once_it_wins_the_vote() -> None:
    lane = LaneTracker()
    for _ in range(3):
        lane.observe([plate("京A12345")])
    announced = [lane.observe([plate("沪B67890")]) for _ in range(5)]
    assert [s.reading.text for s in announced if s is not None] == ["沪B67890"]


def test_uncertain_readings_are_never_announced_and_keep_the_lane_occupied() -> None:
    lane = LaneTracker(empty_frames=2)
    lane.observe([plate("京A12345")])
    assert lane.observe([plate("京A12345")]) is not None
    for _ in range(5):
        assert lane.observe([plate("京A1234?", 0.99, uncertain=True), plate("", 0.3, uncertain=True)]) is None
    assert lane.observe([plate("京A12345")]) is None        # never empty in between: the same car


def test_snapshot_keys_name_station_camera_and_time_and_the_sweep_keeps_the_retention(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, retention_days=7)
    old = store.save("demo-01", "CAM-02", T0 - timedelta(days=8), b"old")
    recent = store.save("demo-01", "CAM-02", T0 - timedelta(days=6), b"recent")
    assert recent == "demo-01/CAM-02/2026/11/29/080000.000000.jpg"
    assert store.sweep(T0) == 1
    assert not store.path(old).exists() and store.path(recent).read_bytes() == b"recent"
    with pytest.raises(ValueError):
        store.path("../etc/passwd")
    with pytest.raises(ValueError):
        store.key("demo-01", "../x", T0)


def test_decode_tells_empty_and_corrupt_frames_apart() -> None:
    assert decode(b"").skipped == "empty"
    assert decode(b"\xff\xd8garbage\xff\xd9").skipped == "corrupt"
    ok, jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok and decode(jpeg.tobytes()).image is not None


class FakeReader:
    """A stand-in for the plate reader (unit tests only): answers a script, or raises on a marked frame."""

    def __init__(self, answers: Sequence[list[PlateReading]]) -> None:
        self.answers = list(answers)

    def read(self, image: Image) -> list[PlateReading]:
        if image.shape[0] == 13:
            raise RuntimeError("the model choked on this frame")
        return self.answers.pop(0) if self.answers else []


def frame(shade: int, rows: int = 8) -> Frame:
    image = np.full((rows, 8, 3), shade, np.uint8)
    return Frame(image, cv2.imencode(".jpg", image)[1].tobytes())


def skipped(camera: str, reason: str) -> float:
    return SKIPPED.labels(camera, reason)._value.get()


async def service_with(reader_factory: object, tmp_path: Path, sent: list[CloudEvent],
                       camera: str) -> VisionService:
    async def publish(event: CloudEvent) -> None:
        sent.append(event)

    service = VisionService("demo-01", [CameraBinding(camera, "file:none", fuelling_point=2)], reader_factory,  # type: ignore[arg-type]
                            publish, SnapshotStore(tmp_path), now=lambda: T0)
    await service._load_models()
    return service


async def test_bad_frames_are_counted_skips_and_one_car_is_one_event(tmp_path: Path) -> None:
    sent: list[CloudEvent] = []
    reader = FakeReader([[plate("皖AY339S")], [plate("皖AY339S")], [plate("皖AY339S")]])
    service = await service_with(lambda: reader, tmp_path, sent, "CAM-U1")
    state = service.cameras["CAM-U1"]
    before = {r: skipped("CAM-U1", r) for r in ("empty", "corrupt", "frozen", "reader_error")}
    assert await service.handle(state, decode(b"")) is None
    assert await service.handle(state, decode(b"\xff\xd8\x00\x00")) is None
    assert await service.handle(state, frame(0, rows=13)) is None          # the reader raises
    assert await service.handle(state, frame(1)) is None
    assert await service.handle(state, frame(1)) is None                   # frozen: the same bytes again
    event = await service.handle(state, frame(2))
    assert await service.handle(state, frame(3)) is None                   # the same car: no second event
    reader.answers = [[plate("NOT-A-PLATE")], [plate("NOT-A-PLATE")]]
    state.tracker = LaneTracker()
    assert [await service.handle(state, frame(s)) for s in (4, 5)] == [None, None]   # never published
    assert {r: skipped("CAM-U1", r) - before[r] for r in before} == {
        "empty": 1, "corrupt": 1, "frozen": 1, "reader_error": 1}
    assert skipped("CAM-U1", "not_a_plate") == 1
    assert isinstance(event, VehicleRecognized)
    assert (event.fuelling_point, event.plate, event.frames, event.station) == (2, "皖AY339S", 2, "demo-01")
    assert len(sent) == 1 and sent[0].type == "vehicle.recognized" and sent[0].id == event.event_id()
    assert (tmp_path / event.snapshot).read_bytes() == frame(2).jpeg


async def test_models_with_a_wrong_hash_leave_the_service_up_unhealthy_and_frames_skipped(tmp_path: Path) -> None:
    def wrong_hash() -> FakeReader:
        raise ValueError("plate_detect_y5fu_320.onnx: SHA-256 does not match the manifest")

    sent: list[CloudEvent] = []
    service = await service_with(wrong_hash, tmp_path, sent, "CAM-U2")
    before = skipped("CAM-U2", "no_model")
    assert await service.handle(service.cameras["CAM-U2"], frame(5)) is None
    assert skipped("CAM-U2", "no_model") - before == 1 and not sent
    report = service.health()
    assert report["status"] != "ok"
    assert "SHA-256 does not match" in str(report["checks"]["models"]["detail"])


async def test_re_encoded_stream_frames_are_never_taken_for_a_frozen_camera(tmp_path: Path) -> None:
    sent: list[CloudEvent] = []
    reader = FakeReader([[plate("皖AFL605")], [plate("皖AFL605")]])
    service = await service_with(lambda: reader, tmp_path, sent, "CAM-U3")
    state = service.cameras["CAM-U3"]
    still = frame(7)
    from_stream = Frame(still.image, still.jpeg, as_sent=False)     # OpenCV decoded and we encoded: no stamp
    assert await service.handle(state, from_stream) is None
    assert await service.handle(state, from_stream) is not None      # a parked car's identical frames still vote
    assert skipped("CAM-U3", "frozen") == 0
