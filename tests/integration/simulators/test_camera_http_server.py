"""Lane cameras over real HTTP: snapshots, MJPEG streams, car arrival, faults (httpx client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from simulators.camera import CameraConfig, CameraServer, CameraSetConfig, OfflineMode
from simulators.camera.config import DEFAULT_SCENES_DIR
from simulators.camera.httpcodec import MjpegPart, split_mjpeg_parts
from simulators.camera.jpeg import comment_of, dimensions
from simulators.clock import ManualClock

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not DEFAULT_SCENES_DIR.is_dir(), reason="shared scene images not present"),
]

CONFIG = CameraSetConfig(
    scenes_dir=DEFAULT_SCENES_DIR,
    boundary="forecourtframe",
    cameras=(
        CameraConfig(code="CAM-01", fuelling_point=1, fps=25.0, width=160, height=120),
        CameraConfig(code="CAM-02", fuelling_point=2, fps=25.0, width=160, height=120),
    ),
)
SCENE = "ccpd_003.jpg"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def server(clock: ManualClock) -> AsyncIterator[CameraServer]:
    async with CameraServer(CONFIG, clock) as running:
        yield running


@pytest.fixture
async def http(server: CameraServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0) as client:
        yield client


def assert_jpeg(body: bytes) -> None:
    assert body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"


async def snapshot(http: httpx.AsyncClient, code: str = "CAM-01") -> httpx.Response:
    response = await http.get(f"/cameras/{code}/snapshot.jpg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert_jpeg(response.content)
    return response


class PartReader:
    """MJPEG parts from one streaming response, read a few at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_raw()
        self._buffer = b""
        self._ready: list[MjpegPart] = []

    async def take(self, count: int) -> list[MjpegPart]:
        """The next ``count`` parts, or fewer if the stream ends first."""
        async for chunk in self._chunks:
            found, self._buffer = split_mjpeg_parts(self._buffer + chunk, CONFIG.boundary)
            self._ready.extend(found)
            if len(self._ready) >= count:
                break
        taken, self._ready = self._ready[:count], self._ready[count:]
        return taken


async def test_snapshot_of_an_empty_lane(http: httpx.AsyncClient, clock: ManualClock) -> None:
    response = await snapshot(http)
    assert dimensions(response.content) == (160, 120)
    comment = comment_of(response.content)
    assert comment is not None and "code=CAM-01" in comment and "scene=-" in comment
    assert response.headers["x-timestamp"] == clock.now().isoformat()
    clock.advance(90.0)
    later = await snapshot(http)
    assert later.headers["x-timestamp"] == clock.now().isoformat()
    assert int(later.headers["x-frame-seq"]) == int(response.headers["x-frame-seq"]) + 1


async def test_snapshot_changes_when_a_car_arrives_and_leaves(http: httpx.AsyncClient, server: CameraServer) -> None:
    empty = await snapshot(http)
    server.camera_at(1).car_arrived(SCENE)
    occupied = await snapshot(http)
    original = (DEFAULT_SCENES_DIR / SCENE).read_bytes()
    assert dimensions(occupied.content) == (720, 1160)
    assert occupied.content.endswith(original[-4000:])
    assert f"scene={SCENE}" in (comment_of(occupied.content) or "")
    other_lane = await snapshot(http, "CAM-02")
    assert dimensions(other_lane.content) == (160, 120)
    server.camera("CAM-01").car_left()
    gone = await snapshot(http)
    assert dimensions(gone.content) == (160, 120)
    assert gone.content.endswith(empty.content[-500:])


async def test_mjpeg_stream_parts_follow_the_lane(http: httpx.AsyncClient, server: CameraServer) -> None:
    async with http.stream("GET", "/cameras/CAM-02/stream.mjpg") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=forecourtframe"
        parts = PartReader(response)
        first = await parts.take(3)
        server.camera("CAM-02").car_arrived(SCENE)
        later: list[MjpegPart] = []
        while len(later) < 50 and (not later or dimensions(later[-1].body) != (720, 1160)):
            later += await parts.take(1)  # frames already on their way still show the empty lane
    for part in first + later:
        assert part.headers["content-type"] == "image/jpeg"
        assert_jpeg(part.body)
    sequence = [int(part.headers["x-frame-seq"]) for part in first + later]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    assert {dimensions(part.body) for part in first} == {(160, 120)}
    assert dimensions(later[-1].body) == (720, 1160)
    assert f"scene={SCENE}" in (comment_of(later[-1].body) or "")


async def test_frozen_frame_repeats_the_same_bytes(http: httpx.AsyncClient, server: CameraServer) -> None:
    before = await snapshot(http)
    server.faults.frozen("CAM-01")
    server.camera("CAM-01").car_arrived(SCENE)
    stuck = [await snapshot(http) for _ in range(2)]
    assert all(frame.content == before.content for frame in stuck)
    assert {frame.headers["x-frame-seq"] for frame in stuck} == {before.headers["x-frame-seq"]}
    server.faults.frozen("CAM-01", False)
    live = await snapshot(http)
    assert dimensions(live.content) == (720, 1160)


async def test_offline_camera_modes(http: httpx.AsyncClient, server: CameraServer) -> None:
    server.faults.offline("CAM-01", OfflineMode.DROP)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get("/cameras/CAM-01/snapshot.jpg")
    server.faults.offline("CAM-01", OfflineMode.HTTP_503)
    assert (await http.get("/cameras/CAM-01/stream.mjpg")).status_code == 503
    server.faults.offline("CAM-01", OfflineMode.HANG)
    with pytest.raises(httpx.ReadTimeout):
        await http.get("/cameras/CAM-01/snapshot.jpg", timeout=0.3)
    await snapshot(http, "CAM-02")  # the other camera is fine
    server.faults.online("CAM-01")
    await snapshot(http)


async def test_stream_ends_when_the_camera_goes_offline(http: httpx.AsyncClient, server: CameraServer) -> None:
    async with http.stream("GET", "/cameras/CAM-01/stream.mjpg") as response:
        parts = PartReader(response)
        assert len(await parts.take(1)) == 1
        server.faults.offline("CAM-01")
        remaining = await asyncio.wait_for(parts.take(100), timeout=2.0)
    assert len(remaining) < 100  # the stream ended (frames already on their way may still arrive)


async def test_index_and_errors(http: httpx.AsyncClient, server: CameraServer) -> None:
    server.camera("CAM-02").car_arrived(SCENE)
    index = (await http.get("/cameras")).json()
    assert [(cam["code"], cam["fuelling_point"], cam["state"]) for cam in index["cameras"]] == [
        ("CAM-01", 1, "empty"),
        ("CAM-02", 2, "occupied"),
    ]
    assert (await http.get("/cameras/CAM-09/snapshot.jpg")).status_code == 404
    assert (await http.get("/other")).status_code == 404
    refused = await http.post("/cameras/CAM-01/snapshot.jpg")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET"


async def test_bad_request_head_gets_400(server: CameraServer) -> None:
    host, port = server.address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"HELLO\r\n\r\n")
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")


async def test_missing_scenes_folder_fails_at_start(clock: ManualClock) -> None:
    config = CameraSetConfig(scenes_dir=DEFAULT_SCENES_DIR / "does-not-exist")
    with pytest.raises(FileNotFoundError, match="scenes_dir"):
        async with CameraServer(config, clock):
            pass
