"""Station-YAML settings for the lane cameras (one HTTP server serves them all)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The project's shared data sits beside the repository (``../shared``); a station file can name another folder.
DEFAULT_SCENES_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "vision" / "plates" / "scenes"


class CameraConfig(BaseModel):
    """One camera looking at one fuelling position (lane)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="used in the URL: /cameras/{code}/…")
    fuelling_point: int | None = Field(default=None, ge=1, le=99)
    fps: float = Field(default=5.0, gt=0.0, le=30.0, description="MJPEG frames per real second")
    width: int = Field(default=720, ge=64, le=4096, description="size of the generated empty-lane frame")
    height: int = Field(default=1160, ge=64, le=4096)


def _default_cameras() -> tuple[CameraConfig, ...]:
    return (CameraConfig(code="CAM-01", fuelling_point=1), CameraConfig(code="CAM-02", fuelling_point=2))


class CameraSetConfig(BaseModel):
    """The ``cameras`` part of a station YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenes_dir: Path = Field(
        default=DEFAULT_SCENES_DIR, description="folder of vehicle JPEGs shown when a car is at the lane"
    )
    seed: int = 0
    jpeg_quality: int = Field(default=75, ge=1, le=100, description="quality of the generated empty-lane frame")
    boundary: str = Field(default="forecourtframe", pattern=r"^[A-Za-z0-9'()+_,./:=?-]{1,70}$")
    cameras: tuple[CameraConfig, ...] = Field(default_factory=_default_cameras, min_length=1)

    @model_validator(mode="after")
    def _unique_codes_and_lanes(self) -> CameraSetConfig:
        codes = [camera.code for camera in self.cameras]
        if len(set(codes)) != len(codes):
            raise ValueError(f"cameras: duplicate code in {codes}")
        lanes = [camera.fuelling_point for camera in self.cameras if camera.fuelling_point is not None]
        if len(set(lanes)) != len(lanes):
            raise ValueError(f"cameras: two cameras on the same fuelling_point in {lanes}")
        return self
