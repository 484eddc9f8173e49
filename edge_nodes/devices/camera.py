"""Lane and gate cameras in a station file (``protocol: camera``): where each camera is and what it looks at.

The entry binds a camera to a fuelling position (``fuelling_point``) or to the station's entry or exit
(``direction``); the edge node reads nothing from it (its source idles, with no metrics): the vision service
(``forecourt vision serve``, vision/service.py) reads these entries and the camera itself. ``url``: an HTTP
snapshot (``…/snapshot.jpg``), an MJPEG stream, ``rtsp://…`` or a file, as OpenCV opens it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge_nodes.devices.base import DeviceEntry, register
from edge_nodes.source import DeviceSource, Emit, MetricSpec, SourceContext


class IdleSource:
    """A camera has nothing for the edge node to poll."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.metrics: dict[str, MetricSpec] = {}

    async def run(self, emit: Emit) -> None:
        await asyncio.Event().wait()


@register
class CameraEntry(DeviceEntry):
    protocol: Literal["camera"]
    url: Annotated[str, Field(min_length=1, max_length=500)]
    fuelling_point: Annotated[int, Field(ge=1, le=99)] | None = None
    direction: Literal["lane", "entry", "exit"] = "lane"

    @model_validator(mode="after")
    def _bound(self) -> CameraEntry:
        if (self.direction == "lane") != (self.fuelling_point is not None):
            raise ValueError("a lane camera needs fuelling_point; an entry/exit camera has none")
        return self

    def source(self, context: SourceContext | None = None) -> DeviceSource:
        return IdleSource(self.code)
