"""The plate pipeline: an image in, one ``PlateReading`` per plate found (vision/readings.py).

detect (y5fu) → warp by the four corners (a double-row plate split into its rows, read as one line) → PP-OCRv4
→ format check → colour. A reading below ``threshold`` or fitting no plate format is ``uncertain`` with its
reason, and its text is still shown for a person to judge but never used to pay. CPU-bound: a service calls it
through ``asyncio.to_thread``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.models import ModelStore
from vision.plates.colour import PlateColourClassifier
from vision.plates.detector import PlateBox, PlateDetector
from vision.plates.formats import plate_format, settle_colour
from vision.plates.geometry import Image, join_rows, warp
from vision.plates.recogniser import PlateRecogniser, TextRead
from vision.readings import PlateReading

SINGLE_ROW = (168, 48)       # warped size of a one-row plate (440 × 140 mm)
DOUBLE_ROW = (160, 80)       # … of a two-row plate (440 × 220 mm)
MAX_PIXELS = 40_000_000


class PlateReadError(ValueError):
    """The image cannot be read (not an image, empty, too large); the message says which."""


def decode_image(data: bytes) -> Image:
    """JPEG/PNG bytes → BGR image, or ``PlateReadError``."""
    if not data:
        raise PlateReadError("空图像 / the image is empty (0 bytes)")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise PlateReadError(f"无法解码图像 / not a readable JPEG or PNG ({len(data)} bytes)")
    return check_image(np.asarray(decoded, dtype=np.uint8))


def check_image(image: Image | None) -> Image:
    if image is None or image.size == 0 or image.ndim not in (2, 3):
        raise PlateReadError("空帧 / the frame is empty")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise PlateReadError(f"图像过大 / the image is too large ({image.shape[1]}×{image.shape[0]})")
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    return np.ascontiguousarray(image, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class PlateReaderSettings:
    threshold: float = 0.70           # the lowest character probability of a certain reading (docs/vision.md)
    detector: str = "plate_detect_320"
    detect_threshold: float = 0.5


@dataclass(slots=True)
class PlateReader:
    store: ModelStore
    settings: PlateReaderSettings = field(default_factory=PlateReaderSettings)
    detector: PlateDetector = field(init=False)
    recogniser: PlateRecogniser = field(init=False)
    colours: PlateColourClassifier = field(init=False)

    def __post_init__(self) -> None:
        self.detector = PlateDetector(self.store.session(self.settings.detector),
                                      threshold=self.settings.detect_threshold)
        self.recogniser = PlateRecogniser(self.store.session("plate_text"))
        self.colours = PlateColourClassifier(self.store.session("plate_colour"))

    def read(self, image: Image) -> list[PlateReading]:
        """Every plate in a scene, most confident detection first; [] when there is none."""
        image = check_image(image)
        return [self._read_found(image, found) for found in self.detector.detect(image)]

    def read_plate(self, plate: Image) -> PlateReading:
        """An image that is one plate already (a crop), one row."""
        plate = check_image(plate)
        height, width = plate.shape[:2]
        corners = ((0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height)))
        return self._judge(self.recogniser.read(plate), plate, (0.0, 0.0, float(width), float(height)),
                           corners, double_row=False)

    def _read_found(self, image: Image, found: PlateBox) -> PlateReading:
        size = DOUBLE_ROW if found.double_row else SINGLE_ROW
        plate = warp(image, found.corners, *size, margin=0.04)
        text = self.recogniser.read(join_rows(plate) if found.double_row else plate)
        quad = tuple((float(x), float(y)) for x, y in found.corners)
        return self._judge(text, plate, found.box, (quad[0], quad[1], quad[2], quad[3]), found.double_row)

    def _judge(self, read: TextRead, plate: Image, box: tuple[float, float, float, float],
               corners: tuple[tuple[float, float], ...], double_row: bool) -> PlateReading:
        seen, seen_p = self.colours.classify(plate)
        reasons: list[str] = []
        fmt = plate_format(read.text)
        colour = seen
        if not read.text:
            reasons.append("未读出字符 / no characters read")
        elif fmt is None:
            reasons.append(f"不符合号牌格式 / {len(read.text)} characters fit no plate format")
        else:
            colour, doubt = settle_colour(fmt, seen, seen_p)
            if doubt:
                reasons.append(doubt)
        if read.text and read.confidence < self.settings.threshold:
            reasons.append(f"字符置信度低 / a character read at {read.confidence:.2f} "
                           f"< {self.settings.threshold:.2f} (dirty or hidden?)")
        c = corners
        return PlateReading(text=read.text, colour=colour, confidence=round(read.confidence, 4), box=box,
                            corners=(c[0], c[1], c[2], c[3]), double_row=double_row,
                            uncertain=bool(reasons), reason="; ".join(reasons))
