"""Plate colour (HyperLPR3 96×96 classifier): blue, green (new energy) or yellow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from vision.plates.geometry import Image

if TYPE_CHECKING:
    import onnxruntime

COLOURS = ("blue", "green", "yellow")


class PlateColourClassifier:
    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def classify(self, plate: Image) -> tuple[str, float]:
        """The colour and its probability for a BGR plate image."""
        tensor = cv2.resize(plate, (96, 96)).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        scores: npt.NDArray[np.float32] = self.session.run(None, {self.input_name: tensor})[0][0]
        if scores.min() < 0 or abs(float(scores.sum()) - 1.0) > 1e-3:     # logits: softmax them
            exp = np.exp(scores - scores.max())
            scores = exp / exp.sum()
        best = int(scores.argmax())
        return COLOURS[best], float(scores[best])
