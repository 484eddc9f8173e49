"""Camera HTTP codec (request heads, routes, MJPEG parts), lane camera state and its faults."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from simulators.camera.config import CameraConfig, CameraSetConfig
from simulators.camera.faults import CameraFaults
from simulators.camera.httpcodec import (
    BadRequest,
    Route,
    mjpeg_part,
    parse_request_head,
    response_head,
    route,
    split_mjpeg_parts,
    stream_head,
)
from simulators.camera.model import LaneCamera, OfflineMode, UnknownScene

SCENES = ("ccpd_000.jpg", "ccpd_001.jpg", "ccpd_002.jpg")


def test_parse_request_head() -> None:
    request = parse_request_head(
        b"GET /cameras/CAM-01/snapshot.jpg?t=17 HTTP/1.1\r\nHost: x\r\nAccept:  image/jpeg \r\n\r\n"
    )
    assert (request.method, request.path, request.version) == ("GET", "/cameras/CAM-01/snapshot.jpg", "HTTP/1.1")
    assert request.headers == {"host": "x", "accept": "image/jpeg"}


@pytest.mark.parametrize(
    "head",
    [b"GET /\r\n\r\n", b"GET / SPDY/3\r\n\r\n", b"GET / HTTP/1.1\r\nno colon\r\n\r\n", b"\r\n\r\n"],
)
def test_bad_request_heads(head: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_request_head(head)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/cameras", Route("index")),
        ("/cameras/", Route("index")),
        ("/cameras/CAM-01/snapshot.jpg", Route("snapshot", "CAM-01")),
        ("/cameras/lane_3/stream.mjpg", Route("stream", "lane_3")),
        ("/cameras/CAM-01/stream.mjpeg", None),
        ("/cameras/../etc/snapshot.jpg", None),
        ("/", None),
    ],
)
def test_routes(path: str, expected: Route | None) -> None:
    assert route(path) == expected


def test_response_and_stream_heads() -> None:
    assert response_head(404, [("Content-Length", "0")]) == b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    head = stream_head("frame")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: multipart/x-mixed-replace; boundary=frame\r\n" in head


def test_mjpeg_parts_round_trip_across_chunks() -> None:
    stream = b"".join(
        mjpeg_part("b0undary", body, [("X-Frame-Seq", str(n))])
        for n, body in enumerate((b"\xff\xd8one\xff\xd9", b"\xff\xd8\r\n--b0undary\r\n\xff\xd9"), start=1)
    )
    assert stream.startswith(b"--b0undary\r\nContent-Type: image/jpeg\r\nContent-Length: 7\r\n")
    parts, rest = split_mjpeg_parts(stream[:40], "b0undary")
    assert parts == []
    parts, rest = split_mjpeg_parts(rest + stream[40:], "b0undary")
    assert [part.body for part in parts] == [b"\xff\xd8one\xff\xd9", b"\xff\xd8\r\n--b0undary\r\n\xff\xd9"]
    assert [part.headers["x-frame-seq"] for part in parts] == ["1", "2"]
    assert rest == b"\r\n"


def camera(seed: int = 1) -> LaneCamera:
    return LaneCamera(CameraConfig(code="CAM-01", fuelling_point=1), SCENES, random.Random(seed))


def test_car_arrives_and_leaves() -> None:
    lane = camera()
    assert (lane.scene, lane.state) == (None, "empty")
    assert lane.car_arrived("ccpd_002.jpg") == "ccpd_002.jpg"
    assert (lane.scene, lane.state) == ("ccpd_002.jpg", "occupied")
    lane.car_left()
    assert lane.scene is None
    with pytest.raises(UnknownScene):
        lane.car_arrived("nope.jpg")


def test_random_car_is_repeatable_per_seed() -> None:
    picks = [camera(4).car_arrived() for _ in range(3)]
    assert len(set(picks)) == 1 and picks[0] in SCENES
    sequence_a = [lane.car_arrived() for lane in [camera(5)] for _ in range(10)]
    sequence_b = [lane.car_arrived() for lane in [camera(5)] for _ in range(10)]
    assert sequence_a == sequence_b and len(set(sequence_a)) > 1


def test_faults_by_code() -> None:
    lane = camera()
    faults = CameraFaults({"CAM-01": lane})
    faults.offline("CAM-01", "hang")
    faults.frozen("CAM-01")
    assert (lane.offline, lane.frozen, lane.state) == (OfflineMode.HANG, True, "offline")
    faults.clear()
    assert (lane.offline, lane.frozen) == (None, False)
    with pytest.raises(KeyError):
        faults.frozen("CAM-09")
    with pytest.raises(ValueError):
        faults.offline("CAM-01", "asleep")


def test_config_rejects_duplicates_and_bad_codes() -> None:
    with pytest.raises(ValidationError):
        CameraSetConfig(cameras=(CameraConfig(code="A", fuelling_point=1), CameraConfig(code="A")))
    with pytest.raises(ValidationError):
        CameraSetConfig(cameras=(CameraConfig(code="A", fuelling_point=1), CameraConfig(code="B", fuelling_point=1)))
    with pytest.raises(ValidationError):
        CameraConfig(code="CAM 01")
