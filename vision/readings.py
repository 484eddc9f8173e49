"""What the vision pipelines answer (pure data, no models): the plate reader, the face pipeline and the service
share these shapes (docs/vision.md).

A ``PlateReading`` is one plate in one image; ``uncertain`` (with its ``reason``) marks a plate that was found but
not read with confidence (dirty, partly hidden, too small): it is reported, never guessed, and the service never
pays by it. ``FaceResult`` is one face at a terminal: found, alive or not, and who it is if anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class PlateReading:
    text: str                             # e.g. 京A12345 (7), 粤BD12345 (8, new energy); "" when unread
    colour: str                           # blue, yellow, green, white, black, unknown
    confidence: float                     # 0..1: the reader's belief that ``text`` is exactly right
    box: tuple[float, float, float, float]          # x1, y1, x2, y2 in image pixels
    corners: tuple[Point, Point, Point, Point]      # top-left, top-right, bottom-right, bottom-left
    double_row: bool = False
    uncertain: bool = False
    reason: str = ""                      # why uncertain (Chinese + English), "" otherwise


@dataclass(frozen=True, slots=True)
class FaceMatch:
    person: str                           # the enrolled person's key (a member number)
    similarity: float                     # cosine similarity 0..1 of the embeddings


@dataclass(frozen=True, slots=True)
class FaceResult:
    box: tuple[float, float, float, float]
    landmarks: tuple[Point, Point, Point, Point, Point]   # right eye, left eye, nose, right/left mouth corner
    score: float                          # the detector's
    liveness: float                       # 0..1, the two liveness models averaged
    live: bool                            # liveness at or above the threshold
    match: FaceMatch | None = None        # None: nobody enrolled is close enough (or not live)
    timings_ms: dict[str, float] = field(default_factory=dict)
