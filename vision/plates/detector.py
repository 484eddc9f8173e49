"""The plate detector (HyperLPR3 y5fu): box, four corners and one- or two-row, from one image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from vision.plates.geometry import Image, Quad, letterbox, nms

if TYPE_CHECKING:
    import onnxruntime


@dataclass(frozen=True, slots=True)
class PlateBox:
    box: tuple[float, float, float, float]     # x1, y1, x2, y2 in image pixels
    corners: Quad                              # TL, TR, BR, BL in image pixels
    score: float
    double_row: bool


class PlateDetector:
    """Runs the y5fu model at its input size (320 or 640), letterboxed; NMS; corners mapped back."""

    def __init__(self, session: onnxruntime.InferenceSession, *, threshold: float = 0.5,
                 nms_threshold: float = 0.5) -> None:
        self.session = session
        model_input = session.get_inputs()[0]
        self.input_name = model_input.name
        self.size = int(model_input.shape[2])
        self.threshold = threshold
        self.nms_threshold = nms_threshold

    def detect(self, image: Image) -> list[PlateBox]:
        canvas, frame = letterbox(image, self.size)
        tensor = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        rows: npt.NDArray[np.float32] = self.session.run(None, {self.input_name: tensor})[0][0]
        scores = rows[:, 4] * rows[:, 13:15].max(axis=1)
        rows, scores = rows[scores >= self.threshold], scores[scores >= self.threshold]
        if rows.size == 0:
            return []
        centre, half = rows[:, 0:2], rows[:, 2:4] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)
        height, width = image.shape[:2]
        found = []
        for index in nms(boxes, scores, self.nms_threshold):
            box = frame.to_image(boxes[index])
            corners = frame.to_image(rows[index, 5:13].reshape(4, 2))
            x1, y1, x2, y2 = (float(np.clip(box[0], 0, width)), float(np.clip(box[1], 0, height)),
                              float(np.clip(box[2], 0, width)), float(np.clip(box[3], 0, height)))
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            found.append(PlateBox((x1, y1, x2, y2), corners, float(scores[index]),
                                  bool(rows[index, 14] > rows[index, 13])))
        return found
