"""Pure image geometry of the plate reader: letterboxing, non-maximum suppression, the corner warp."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Quad = npt.NDArray[np.float32]       # 4×2: top-left, top-right, bottom-right, bottom-left


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was scaled and padded into a square model input (to map points back)."""

    scale: float
    left: int
    top: int

    def to_image(self, points: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Model-input coordinates (x, y pairs along the last axis) → image pixels."""
        shifted = points.reshape(-1, 2) - np.array([self.left, self.top], np.float32)
        return (shifted / self.scale).reshape(points.shape).astype(np.float32)


def letterbox(image: Image, size: int, pad: int = 114) -> tuple[Image, Letterbox]:
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = np.full((size, size, 3), pad, np.uint8)
    left, top = (size - new_w) // 2, (size - new_h) // 2
    canvas[top:top + new_h, left:left + new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, Letterbox(scale, left, top)


def iou(box: npt.NDArray[np.float32], others: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Intersection over union of one x1,y1,x2,y2 box with each of ``others``."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-6), dtype=np.float32)


def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], threshold: float) -> list[int]:
    """Indices of the boxes kept, best first; a box overlapping a better one by more than ``threshold`` goes."""
    order = list(np.argsort(-scores))
    kept: list[int] = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=np.intp)
        kept.append(int(best))
        if rest.size == 0:
            break
        order = [int(i) for i in rest[iou(boxes[best], boxes[rest]) <= threshold]]
    return kept


def warp(image: Image, corners: Quad, width: int, height: int, margin: float = 0.0) -> Image:
    """The quadrilateral ``corners`` (TL, TR, BR, BL) rectified to ``width``×``height``; ``margin`` widens it by
    that fraction of its size on each side (the detector's corners sit tight on the characters)."""
    quad = corners.astype(np.float32)
    if margin:
        centre = quad.mean(axis=0)
        quad = centre + (quad - centre) * (1.0 + 2.0 * margin)
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return np.asarray(cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def join_rows(plate: Image, split: float = 0.4) -> Image:
    """A double-row plate as one line: the upper row (province, letter) put left of the lower row."""
    height, width = plate.shape[:2]
    cut = max(1, min(height - 1, round(height * split)))
    upper, lower = plate[:cut], plate[cut:]
    upper = np.asarray(cv2.resize(upper, (max(1, width // 2), lower.shape[0]), interpolation=cv2.INTER_LINEAR),
                       dtype=np.uint8)
    return np.ascontiguousarray(np.hstack([upper, lower]))
