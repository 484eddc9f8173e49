"""What a lane camera sees: an empty lane or a car, and whether it is frozen or offline.

Pure state, changed by the scenario (``car_arrived`` / ``car_left``) and by fault injection;
the server turns it into JPEG frames.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from enum import StrEnum

from simulators.camera.config import CameraConfig


class OfflineMode(StrEnum):
    """How an offline camera behaves towards HTTP clients."""

    DROP = "drop"  # the connection is closed without an answer
    HANG = "hang"  # the connection stays open and nothing is sent
    HTTP_503 = "http_503"  # 503 Service Unavailable


class UnknownScene(ValueError):
    """An image name that is not in the scenes folder."""


class LaneCamera:
    """One camera: the scene in front of it and its faults."""

    def __init__(self, config: CameraConfig, scene_names: Sequence[str], rng: random.Random) -> None:
        self.config = config
        self._scene_names = tuple(scene_names)
        self._rng = rng
        self._scene: str | None = None
        self._seq = 0
        self.frozen = False
        self.offline: OfflineMode | None = None

    @property
    def code(self) -> str:
        return self.config.code

    @property
    def scene(self) -> str | None:
        """The vehicle image now in view, or None for the empty lane."""
        return self._scene

    @property
    def state(self) -> str:
        if self.offline is not None:
            return "offline"
        return "empty" if self._scene is None else "occupied"

    def car_arrived(self, image_name: str | None = None) -> str:
        """A vehicle stops at the lane; without a name one scene is drawn at random."""
        if image_name is None:
            if not self._scene_names:
                raise UnknownScene("the scenes folder holds no images")
            image_name = self._rng.choice(self._scene_names)
        elif image_name not in self._scene_names:
            raise UnknownScene(f"{image_name!r} is not in the scenes folder")
        self._scene = image_name
        return image_name

    def car_left(self) -> None:
        self._scene = None

    def next_seq(self) -> int:
        """Number of the next frame the camera produces (1, 2, …)."""
        self._seq += 1
        return self._seq
