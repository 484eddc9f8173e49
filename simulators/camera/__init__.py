"""Lane cameras at the fuelling positions, served over HTTP (JPEG snapshots and MJPEG).

A camera shows a real vehicle image from a scenes folder while the scenario says a car is at
its lane (``car_arrived`` / ``car_left``) and a generated empty-lane picture otherwise.
See ``docs/protocols/camera-http.md``.

- ``config``: the station-YAML part describing the cameras.
- ``model``: what each camera sees and its fault state.
- ``jpeg``, ``glyphs``, ``frames``: pure frame making (greyscale JPEG encoder, 5x7 font,
  empty-lane picture, the per-frame COM stamp).
- ``httpcodec``: pure HTTP/1.1 and MJPEG encoding, routing, and an MJPEG part parser.
- ``faults``: offline (drop, hang, 503) and frozen frame.
- ``server``: the asyncio HTTP server and ``run()``.
"""

from simulators.camera.config import CameraConfig, CameraSetConfig
from simulators.camera.faults import CameraFaults
from simulators.camera.model import LaneCamera, OfflineMode, UnknownScene
from simulators.camera.server import DEFAULT_CAMERA_HTTP_PORT, CameraServer, run

__all__ = [
    "DEFAULT_CAMERA_HTTP_PORT",
    "CameraConfig",
    "CameraFaults",
    "CameraServer",
    "CameraSetConfig",
    "LaneCamera",
    "OfflineMode",
    "UnknownScene",
    "run",
]
