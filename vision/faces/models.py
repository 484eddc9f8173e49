"""The face models: YuNet detector, the MiniFASNet liveness pair, and the embedders (MobileFaceNet ONNX for
development and tests, SFace through cv2.FaceRecognizerSF for production) behind one interface."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from vision.faces.align import aligned
from vision.faces.index import unit
from vision.models import ModelStore

# model names of the manifest (vision/models.py); each file is resolved (and its hash checked) by the store
DETECTOR = "face_detect"
LIVENESS = (("liveness_v2", 2.7), ("liveness_v1se", 4.0))
DETECT_SIDE = 640          # larger photos are scaled down to find faces, then aligned on the full image


@dataclass(frozen=True, slots=True)
class Detection:
    box: tuple[float, float, float, float]          # x1, y1, x2, y2
    landmarks: np.ndarray                           # 5×2
    score: float


class FaceDetector:
    def __init__(self, path: Path, threshold: float = 0.7) -> None:
        import cv2

        self._yunet = cv2.FaceDetectorYN.create(str(path), "", (320, 320), threshold, 0.3, 50)
        self._lock = threading.Lock()       # the detector keeps its input size: one image at a time

    def faces(self, image: np.ndarray) -> list[Detection]:
        """Every face, best first."""
        import cv2

        h, w = image.shape[:2]
        ratio = min(1.0, DETECT_SIDE / max(h, w))
        small = image if ratio == 1.0 else cv2.resize(image, (round(w * ratio), round(h * ratio)))
        with self._lock:
            self._yunet.setInputSize((small.shape[1], small.shape[0]))
            _, found = self._yunet.detect(small)
        if found is None:
            return []
        out = []
        for row in found:
            x, y, bw, bh = (float(v) / ratio for v in row[:4])
            points = (row[4:14].reshape(5, 2) / ratio).astype(np.float64)
            out.append(Detection((x, y, x + bw, y + bh), points, float(row[14])))
        return sorted(out, key=lambda d: -d.score)


def _liveness_crop(image: np.ndarray, box: tuple[float, float, float, float], scale: float) -> np.ndarray:
    """The face box grown by ``scale`` about its centre, kept inside the image (as MiniFASNet was trained)."""
    import cv2

    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    scale = min((h - 1) / bh, (w - 1) / bw, scale)
    nw, nh = bw * scale, bh * scale
    cx, cy = x1 + bw / 2, y1 + bh / 2
    left, top = max(0.0, cx - nw / 2), max(0.0, cy - nh / 2)
    right, bottom = min(w - 1.0, cx + nw / 2), min(h - 1.0, cy + nh / 2)
    if left == 0:
        right = nw
    if top == 0:
        bottom = nh
    if right == w - 1:
        left = w - 1 - nw
    if bottom == h - 1:
        top = h - 1 - nh
    crop = image[int(top) : int(bottom) + 1, int(left) : int(right) + 1]
    return cv2.resize(crop, (80, 80))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    out: np.ndarray = e / e.sum()
    return out


class Liveness:
    """Both MiniFASNet models, each on its own crop scale; the chance of a real face, averaged."""

    def __init__(self, files: ModelStore) -> None:
        self._models = [(files.session(name), scale) for name, scale in LIVENESS]

    def score(self, image: np.ndarray, box: tuple[float, float, float, float]) -> float:
        total = 0.0
        for session, scale in self._models:
            crop = _liveness_crop(image, box, scale).transpose(2, 0, 1)[None].astype(np.float32)
            out = session.run(None, {session.get_inputs()[0].name: crop})[0][0]
            total += float(_softmax(out)[1])
        return total / len(self._models)


class Embedder(Protocol):
    dimension: int

    def embedding(self, image: np.ndarray, detection: Detection) -> np.ndarray: ...


class MobileFaceNet:
    """128-d, ONNX (development and tests only: its licence is unknown)."""

    dimension = 128

    def __init__(self, files: ModelStore, name: str) -> None:
        self._session = files.session(name)

    def embedding(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        face = aligned(image, detection.landmarks)[:, :, ::-1].astype(np.float32)   # BGR → RGB
        x = ((face - 127.5) / 127.5).transpose(2, 0, 1)[None]
        v: np.ndarray = self._session.run(None, {"input": np.ascontiguousarray(x)})[0][0]
        return unit(v)


class SFace:
    """128-d, OpenCV Zoo (Apache-2.0): the production embedder."""

    dimension = 128

    def __init__(self, files: ModelStore, name: str) -> None:
        import cv2

        self._sface = cv2.FaceRecognizerSF.create(str(files.path(name)), "")

    def embedding(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        x1, y1, x2, y2 = detection.box
        row = np.array([[x1, y1, x2 - x1, y2 - y1, *detection.landmarks.reshape(-1), detection.score]], np.float32)
        v: np.ndarray = np.asarray(self._sface.feature(self._sface.alignCrop(image, row))).reshape(-1)
        return unit(v)


EMBEDDERS: dict[str, type[MobileFaceNet] | type[SFace]] = {"mobilefacenet": MobileFaceNet, "sface": SFace}


def embedder(which: Literal["mobilefacenet", "sface"], store: ModelStore) -> Embedder:
    """The configured embedder (setting FORECOURT_VISION_EMBEDDER), its file from the manifest."""
    return EMBEDDERS[which](store, store.embedder(which))

