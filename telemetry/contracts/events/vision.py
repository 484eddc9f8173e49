"""Vision events of a station (docs/vision.md): what a lane camera or the face terminal recognised.

``vehicle.recognized``: a plate read (voted across frames) at a fuelling position, with the confidence the
reader gives and the snapshot it was read from; the station's business plane attaches the vehicle's member or
fleet card to that fuelling position (drive-through payment). ``face.recognized`` / ``face.spoof_detected``: a
face at a terminal matched to an enrolled person, or refused as a spoof by the liveness check. Ids come from the
natural key (station, camera or terminal, time), so the same sighting published twice is one event.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import UtcTime
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import MemberNo, Plate

VEHICLE_RECOGNIZED = "vehicle.recognized"
FACE_RECOGNIZED = "face.recognized"
FACE_SPOOF_DETECTED = "face.spoof_detected"
_NAMESPACE = uuid.UUID("3e0b1c52-9f8d-4d0e-a3a7-5b1f2c7d9e41")

PlateColour = Literal["blue", "yellow", "green", "white", "black", "unknown"]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]
Snapshot = Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_./-]*$")]   # a key in the snapshot store


class VehicleRecognized(EventPayload):
    TYPE = VEHICLE_RECOGNIZED

    station: Code
    camera: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    fuelling_point: Annotated[int, Field(ge=1, le=99)] | None = None   # None: an entry/exit camera
    direction: Literal["lane", "entry", "exit"] = "lane"
    plate: Plate
    colour: PlateColour
    confidence: Confidence
    frames: Annotated[int, Field(ge=1)] = 1        # how many frames voted for this reading
    seen_at: UtcTime
    snapshot: Snapshot = ""

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"vehicle/{self.station}/{self.camera}/{self.seen_at.isoformat()}"))


class FaceRecognized(EventPayload):
    TYPE = FACE_RECOGNIZED

    station: Code
    terminal: Annotated[str, Field(min_length=1, max_length=64)]
    member_no: MemberNo
    similarity: Confidence
    liveness: Confidence
    seen_at: UtcTime

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"face/{self.station}/{self.terminal}/{self.seen_at.isoformat()}"))


class FaceSpoofDetected(EventPayload):
    TYPE = FACE_SPOOF_DETECTED

    station: Code
    terminal: Annotated[str, Field(min_length=1, max_length=64)]
    liveness: Confidence
    seen_at: UtcTime
    snapshot: Snapshot = ""

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"spoof/{self.station}/{self.terminal}/{self.seen_at.isoformat()}"))
