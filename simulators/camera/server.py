"""Lane cameras over HTTP: JPEG snapshots and MJPEG streams, one asyncio server for all cameras.

``GET /cameras`` lists the cameras, ``GET /cameras/{code}/snapshot.jpg`` returns one JPEG,
``GET /cameras/{code}/stream.mjpg`` streams ``multipart/x-mixed-replace`` parts at the
camera's fps (real time: frames are for a consumer watching now). Every frame is stamped
with a JPEG COM segment and ``X-Frame-Seq`` / ``X-Timestamp`` headers (simulated UTC time).
Each response closes its connection. See ``docs/protocols/camera-http.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from pathlib import Path
from types import TracebackType

from simulators.camera.config import CameraSetConfig
from simulators.camera.faults import CameraFaults
from simulators.camera.frames import Frame, empty_lane_jpeg, make_frame
from simulators.camera.httpcodec import (
    MAX_HEAD_BYTES,
    BadRequest,
    HttpRequest,
    mjpeg_part,
    parse_request_head,
    route,
    simple_response,
    stream_head,
)
from simulators.camera.jpeg import SOI
from simulators.camera.model import LaneCamera, OfflineMode
from simulators.clock import SimClock

log = logging.getLogger(__name__)

DEFAULT_CAMERA_HTTP_PORT = 18081
HEAD_TIMEOUT_S = 10.0
SCENE_SUFFIXES = (".jpg", ".jpeg")


def list_scenes(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise FileNotFoundError(f"cameras.scenes_dir: {folder} is not a folder")
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SCENE_SUFFIXES)


class CameraServer:
    """All lane cameras of a station on one HTTP port (``port=0`` picks a free one)."""

    def __init__(self, config: CameraSetConfig, clock: SimClock, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self._clock = clock
        self._host = host
        self._port = port
        self._cameras: dict[str, LaneCamera] = {}
        self.faults = CameraFaults(self._cameras)
        self._empty_lane: dict[str, bytes] = {}
        self._scene_bytes: dict[str, bytes] = {}
        self._last_frame: dict[str, Frame] = {}
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        scenes = await asyncio.to_thread(list_scenes, self.config.scenes_dir)
        for index, camera in enumerate(self.config.cameras):
            self._cameras[camera.code] = LaneCamera(camera, scenes, random.Random(self.config.seed * 1000 + index))
            self._empty_lane[camera.code] = await asyncio.to_thread(
                empty_lane_jpeg,
                camera.code,
                camera.fuelling_point,
                camera.width,
                camera.height,
                self.config.jpeg_quality,
            )
        self._server = await asyncio.start_server(self._serve_client, self._host, self._port, limit=MAX_HEAD_BYTES)
        log.info("cameras %s on %s (%d scenes)", list(self._cameras), self.base_url, len(scenes))

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> CameraServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- what clients and scenarios use ---------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("camera server not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def camera(self, code: str) -> LaneCamera:
        return self._cameras[code]

    def camera_at(self, fuelling_point: int) -> LaneCamera:
        for camera in self._cameras.values():
            if camera.config.fuelling_point == fuelling_point:
                return camera
        raise KeyError(f"no camera on fuelling point {fuelling_point}")

    async def current_frame(self, camera: LaneCamera) -> Frame:
        """The frame the camera shows now (the previous one again while frozen)."""
        last = self._last_frame.get(camera.code)
        if camera.frozen and last is not None:
            return last
        base = await self._base_jpeg(camera)
        frame = make_frame(base, camera.code, camera.next_seq(), self._clock.stamp(), camera.scene)
        self._last_frame[camera.code] = frame
        return frame

    async def _base_jpeg(self, camera: LaneCamera) -> bytes:
        name = camera.scene
        if name is None:
            return self._empty_lane[camera.code]
        if name not in self._scene_bytes:
            data = await asyncio.to_thread((self.config.scenes_dir / name).read_bytes)
            if not data.startswith(SOI):
                log.warning("scene %s is not a JPEG; showing the empty lane", name)
                return self._empty_lane[camera.code]
            self._scene_bytes[name] = data
        return self._scene_bytes[name]

    # ---- HTTP -----------------------------------------------------------------------------

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
                request = parse_request_head(head)
            except (asyncio.LimitOverrunError, BadRequest) as exc:
                writer.write(simple_response(400, f"{exc}\n".encode(), "text/plain; charset=utf-8"))
                return
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            await self._respond(request, reader, writer)
            await writer.drain()
        except ConnectionError:
            pass  # the client went away
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()

    async def _respond(self, request: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target = route(request.path)
        if target is None or (target.code is not None and target.code not in self._cameras):
            writer.write(simple_response(404, b"no such camera or path\n", "text/plain; charset=utf-8"))
            return
        if request.method != "GET":
            writer.write(simple_response(405, b"GET only\n", "text/plain; charset=utf-8", [("Allow", "GET")]))
            return
        if target.code is None:
            writer.write(simple_response(200, self._index(), "application/json"))
            return
        camera = self._cameras[target.code]
        if camera.offline is not None:
            await self._act_offline(camera.offline, reader, writer)
        elif target.kind == "snapshot":
            frame = await self.current_frame(camera)
            writer.write(simple_response(200, frame.jpeg, "image/jpeg", self._frame_headers(frame)))
        else:
            await self._stream(camera, reader, writer)

    async def _stream(self, camera: LaneCamera, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(stream_head(self.config.boundary))
        while camera.offline is None:
            frame = await self.current_frame(camera)
            writer.write(mjpeg_part(self.config.boundary, frame.jpeg, self._frame_headers(frame)))
            await writer.drain()
            await asyncio.sleep(1.0 / camera.config.fps)
        if camera.offline is OfflineMode.HANG:
            await self._act_offline(OfflineMode.HANG, reader, writer)

    async def _act_offline(self, mode: OfflineMode, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if mode is OfflineMode.HTTP_503:
            writer.write(simple_response(503, b"camera offline\n", "text/plain; charset=utf-8"))
        elif mode is OfflineMode.HANG:
            with contextlib.suppress(ConnectionError):
                await reader.read()  # until the client gives up
        # DROP: return; the connection closes without an answer

    @staticmethod
    def _frame_headers(frame: Frame) -> list[tuple[str, str]]:
        return [("X-Frame-Seq", str(frame.seq)), ("X-Timestamp", frame.taken_at.isoformat())]

    def _index(self) -> bytes:
        cameras = [
            {
                "code": camera.code,
                "fuelling_point": camera.config.fuelling_point,
                "fps": camera.config.fps,
                "state": camera.state,
                "snapshot": f"/cameras/{camera.code}/snapshot.jpg",
                "stream": f"/cameras/{camera.code}/stream.mjpg",
            }
            for camera in self._cameras.values()
        ]
        return json.dumps({"cameras": cameras}, ensure_ascii=False).encode()


async def run(
    config: CameraSetConfig, clock: SimClock, *, host: str = "127.0.0.1", port: int = DEFAULT_CAMERA_HTTP_PORT
) -> None:
    """Serve the cameras until cancelled."""
    async with CameraServer(config, clock, host=host, port=port) as server:
        log.info("cameras: %s/cameras", server.base_url)
        await asyncio.Event().wait()
