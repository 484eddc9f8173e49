"""Fault injection for the lane cameras: offline (three ways) and frozen frame, by camera code."""

from __future__ import annotations

from collections.abc import Mapping

from simulators.camera.model import LaneCamera, OfflineMode


class CameraFaults:
    """Inject and clear faults on the cameras of one server."""

    def __init__(self, cameras: Mapping[str, LaneCamera]) -> None:
        self._cameras = cameras

    def _camera(self, code: str) -> LaneCamera:
        if code not in self._cameras:
            raise KeyError(f"no camera {code!r}")
        return self._cameras[code]

    def offline(self, code: str, mode: OfflineMode | str = OfflineMode.DROP) -> None:
        """New requests get ``mode``; running streams stop (``hang`` keeps them open, silent)."""
        self._camera(code).offline = OfflineMode(mode)

    def online(self, code: str) -> None:
        self._camera(code).offline = None

    def frozen(self, code: str, on: bool = True) -> None:
        """Serve the last frame again and again (same bytes, same sequence number)."""
        self._camera(code).frozen = on

    def clear(self, code: str | None = None) -> None:
        for each in (code,) if code is not None else tuple(self._cameras):
            camera = self._camera(each)
            camera.offline = None
            camera.frozen = False
