"""The plate text recogniser: PP-OCRv4 (from the rapidocr_onnxruntime wheel) on a rectified plate, CTC-decoded.

The character list is the model's own (metadata key ``character``; index 0 is the CTC blank, the last a space).
The model prints ``·`` between the province + letter and the rest; it is stripped with spaces. Decoding is
restricted to the characters a plate can hold (formats.ALPHABET: no I, no O), so a ``0`` is never read as ``O``;
a character's probability is renormalised over that alphabet and the blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from vision.plates.formats import ALPHABET
from vision.plates.geometry import Image

if TYPE_CHECKING:
    import onnxruntime

HEIGHT = 48
MIN_WIDTH = 320     # the model reads best with the line padded on the right to its training width (98.3 % vs 96.6 %)
MAX_WIDTH = 640
_DROPPED = frozenset("· .-_")


@dataclass(frozen=True, slots=True)
class TextRead:
    text: str
    probabilities: tuple[float, ...]    # one per character of ``text``

    @property
    def confidence(self) -> float:
        return min(self.probabilities, default=0.0)


def ctc_decode(probabilities: npt.NDArray[np.float32], characters: list[str],
               allowed: npt.NDArray[np.intp] | None = None) -> TextRead:
    """Best path: the most likely class per step, repeats merged, blanks (0) and separators dropped; each kept
    character's probability is the highest of its run. ``allowed``: the class indices that may be chosen (the
    blank 0 among them); their probabilities are renormalised to sum to 1 at each step."""
    if allowed is not None:
        subset = probabilities[:, allowed]
        subset = subset / np.maximum(subset.sum(axis=1, keepdims=True), 1e-9)
        best = allowed[subset.argmax(axis=1)]
        best_p = subset.max(axis=1)
    else:
        best = probabilities.argmax(axis=1)
        best_p = probabilities.max(axis=1)
    text: list[str] = []
    probs: list[float] = []
    previous = 0
    for index, p in zip(best.tolist(), best_p.tolist(), strict=True):
        if index != previous and index != 0:
            char = characters[index] if index < len(characters) else ""
            if char and char not in _DROPPED:
                text.append(char)
                probs.append(float(p))
        elif index == previous and index != 0 and text and probs:
            probs[-1] = max(probs[-1], float(p))
        previous = index
    return TextRead("".join(text), tuple(probs))


class PlateRecogniser:
    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        listed = session.get_modelmeta().custom_metadata_map.get("character", "")
        self.characters = ["<blank>", *listed.splitlines(), " "]
        self.allowed = np.array([0, *(i for i, c in enumerate(self.characters) if c in ALPHABET)], np.intp)

    def read(self, plate: Image) -> TextRead:
        """``plate``: a BGR plate image, any size (rectified, one row)."""
        height, width = plate.shape[:2]
        new_w = max(HEIGHT, min(MAX_WIDTH, round(width * HEIGHT / max(height, 1))))
        resized = cv2.resize(plate, (new_w, HEIGHT), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        tensor = np.zeros((1, 3, HEIGHT, max(MIN_WIDTH, new_w)), np.float32)   # 0 = mid-grey after scaling
        tensor[0, :, :, :new_w] = ((resized / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
        output: npt.NDArray[np.float32] = self.session.run(None, {self.input_name: tensor})[0][0]
        return ctc_decode(output, self.characters, self.allowed)
