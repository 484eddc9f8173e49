"""Lane cameras as frame sources: an HTTP snapshot URL, or anything ``cv2.VideoCapture`` opens (an MJPEG stream,
RTSP, a video file). Every call blocks: the service runs them in its thread pool, never on the event loop.

A camera that cannot be reached raises ``CameraUnavailable`` (the service reconnects with back-off); a frame that
came but cannot be used is a ``Frame`` with ``image=None`` and the ``skipped`` reason (``empty``, ``corrupt``),
counted by the service, never an exception.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import cv2
import httpx
import numpy as np
from numpy.typing import NDArray

Direction = Literal["lane", "entry", "exit"]
Image = NDArray[Any]   # a BGR frame as OpenCV decodes it


@dataclass(frozen=True, slots=True)
class CameraBinding:
    """One camera of the station's master data: where it looks (a fuelling position, or the entry/exit)."""

    code: str
    url: str
    fuelling_point: int | None = None
    direction: Direction = "lane"

    def __post_init__(self) -> None:
        if (self.direction == "lane") != (self.fuelling_point is not None):
            raise ValueError(f"camera {self.code}: a lane camera needs a fuelling point, an entry/exit one has none")


class CameraUnavailable(Exception):
    """The camera did not answer (gone, refused, 5xx, stream ended)."""


@dataclass(frozen=True, slots=True)
class Frame:
    image: Image | None
    jpeg: bytes              # the encoded frame (for the snapshot store); b"" when there is none
    skipped: str = ""        # why ``image`` is None: empty, corrupt
    as_sent: bool = True     # ``jpeg`` is the camera's own bytes (a snapshot), not re-encoded by us: the same bytes
                             # twice is a frozen camera (a frozen stream is noticed by its read timeout instead)


def decode(jpeg: bytes) -> Frame:
    if not jpeg:
        return Frame(None, b"", "empty")
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        return Frame(None, jpeg, "corrupt")
    return Frame(image, jpeg)


class FrameSource(Protocol):
    def read(self) -> Frame: ...
    def close(self) -> None: ...


class SnapshotSource:
    """``GET`` the camera's snapshot URL once per frame."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self._url = url
        self._http = httpx.Client(timeout=timeout_s)

    def read(self) -> Frame:
        try:
            response = self._http.get(self._url)
        except httpx.HTTPError as error:
            raise CameraUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code != 200:
            raise CameraUnavailable(f"HTTP {response.status_code}")
        return decode(response.content)

    def close(self) -> None:
        self._http.close()


class CaptureSource:
    """A stream or file through OpenCV (FFmpeg backend): MJPEG over HTTP, RTSP, a video or image file."""

    def __init__(self, url: str, timeout_s: float) -> None:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(timeout_s * 1000), cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                  int(timeout_s * 1000)]
        self._lock = threading.Lock()    # release() while another thread is in read() crashes OpenCV
        self._capture = cv2.VideoCapture(url, cv2.CAP_ANY, params)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraUnavailable(f"OpenCV could not open {url}")

    def read(self) -> Frame:
        with self._lock:
            if not self._capture.isOpened():
                raise CameraUnavailable("the camera was closed")
            ok, image = self._capture.read()
        if not ok:
            raise CameraUnavailable("the stream ended or stalled")
        if image is None or image.size == 0:
            return Frame(None, b"", "empty")
        encoded, jpeg = cv2.imencode(".jpg", image)
        return Frame(image, jpeg.tobytes() if encoded else b"", as_sent=False)

    def close(self) -> None:
        with self._lock:
            self._capture.release()


def open_source(binding: CameraBinding, timeout_s: float = 5.0) -> FrameSource:
    """The source for a camera's URL: ``http(s)://…/*.jpg`` is a snapshot URL, anything else goes to OpenCV."""
    if binding.url.startswith(("http://", "https://")) and binding.url.split("?")[0].endswith((".jpg", ".jpeg")):
        return SnapshotSource(binding.url, timeout_s)
    return CaptureSource(binding.url, timeout_s)
