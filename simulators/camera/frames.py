"""Frame content: the generated empty-lane picture and the stamp every served frame carries.

Pure and CPU-bound (numpy + the JPEG encoder); the server calls ``empty_lane_jpeg`` once per
camera through ``asyncio.to_thread``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from simulators.camera.glyphs import GLYPH_HEIGHT, draw_text, text_width
from simulators.camera.jpeg import encode_greyscale, stamp

ASPHALT = 84
MARKING = 222
ISLAND = 150
TEXT_BOX = 28
TEXT = 240


@dataclass(frozen=True)
class Frame:
    """One produced frame: the JPEG bytes (already stamped) and what they show."""

    jpeg: bytes
    seq: int
    taken_at: datetime
    scene: str | None


def _largest_scale(lines: list[str], width: int, limit: int) -> int:
    widest = max(text_width(line, 1) for line in lines)
    return max(1, min(limit, (width * 8 // 10) // max(widest, 1)))


def empty_lane_image(code: str, fuelling_point: int | None, width: int, height: int) -> npt.NDArray[np.uint8]:
    """Asphalt seen from above the lane: pump island, lane lines, stop line, and a caption."""
    rows = np.linspace(0.0, 1.0, height).reshape(height, 1)
    canvas = np.broadcast_to(ASPHALT + 18.0 * (1.0 - rows), (height, width)).astype(np.uint8)
    canvas[:, : width // 10] = ISLAND
    line = max(2, width // 60)
    for x in (width * 2 // 10, width * 9 // 10):
        canvas[:, x : x + line] = MARKING
    dash = max(8, height // 20)
    centre = width * 11 // 20
    for y in range(0, height, 2 * dash):
        canvas[y : y + dash, centre : centre + line] = MARKING
    stop = height * 8 // 10
    canvas[stop : stop + 2 * line, width * 2 // 10 : width * 9 // 10] = MARKING

    lines = [code, "EMPTY LANE"] + ([f"FP {fuelling_point}"] if fuelling_point is not None else [])
    scale = _largest_scale(lines, width, limit=8)
    line_height = (GLYPH_HEIGHT + 3) * scale
    top = height // 12
    box_width = max(text_width(text, scale) for text in lines) + 4 * scale
    left = (width - box_width) // 2
    canvas[top - 2 * scale : top + len(lines) * line_height, left : left + box_width] = TEXT_BOX
    for index, text in enumerate(lines):
        x = (width - text_width(text, scale)) // 2
        draw_text(canvas, text, x, top + index * line_height, scale, TEXT)
    return canvas


def empty_lane_jpeg(code: str, fuelling_point: int | None, width: int, height: int, quality: int) -> bytes:
    return encode_greyscale(empty_lane_image(code, fuelling_point, width, height), quality)


def frame_comment(code: str, seq: int, taken_at: datetime, scene: str | None) -> str:
    """The JPEG COM text: ``forecourt-camera code=… seq=… ts=… scene=…`` (``-`` = empty)."""
    return f"forecourt-camera code={code} seq={seq} ts={taken_at.isoformat()} scene={scene or '-'}"


def make_frame(base_jpeg: bytes, code: str, seq: int, taken_at: datetime, scene: str | None) -> Frame:
    return Frame(stamp(base_jpeg, frame_comment(code, seq, taken_at, scene)), seq, taken_at, scene)
