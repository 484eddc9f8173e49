"""One face at a terminal, end to end: ``FacePipeline.identify(image) -> FaceResult``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from vision.faces.index import FaceIndex
from vision.faces.models import DETECTOR, Detection, FaceDetector, Liveness, embedder
from vision.models import ModelStore
from vision.readings import FaceMatch, FaceResult

LIVE_AT = 0.5             # averaged chance of a real face at which a face counts as live
MATCH_AT = 0.50           # cosine similarity at which the best enrolled face counts as the same person
SECOND_FACE = 0.5         # another face at least this fraction of the main face's width means "several people"


class FaceError(ValueError):
    """An image the pipeline cannot answer for; ``code`` for machines, ``message`` (Chinese) for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class FaceSettings:
    embedder: Literal["mobilefacenet", "sface"] = "mobilefacenet"
    live_at: float = LIVE_AT
    match_at: float = MATCH_AT


def decoded(data: bytes) -> np.ndarray:
    """A BGR image from file bytes; a clear error for anything that is not one."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None or image.size == 0:
        raise FaceError("bad_image", "图片无法读取：请上传 JPEG 或 PNG 照片")
    return image


def main_face(faces: list[Detection], single: bool) -> Detection:
    """The one face to answer for: the largest; with ``single`` a second sizeable face is refused."""
    if not faces:
        raise FaceError("no_face", "未检测到人脸：请正对镜头，保持光线充足")
    by_size = sorted(faces, key=lambda d: -(d.box[2] - d.box[0]))
    main = by_size[0]
    if single and len(by_size) > 1:
        width = main.box[2] - main.box[0]
        if by_size[1].box[2] - by_size[1].box[0] >= SECOND_FACE * width:
            raise FaceError("several_faces", "检测到多张人脸：请一次只让一人面对镜头")
    return main


class FacePipeline:
    def __init__(self, store: ModelStore, settings: FaceSettings | None = None, index: FaceIndex | None = None) -> None:
        self.settings = settings or FaceSettings()
        self.detector = FaceDetector(store.path(DETECTOR))
        self.liveness = Liveness(store)
        self.embedder = embedder(self.settings.embedder, store)
        self.index = index if index is not None else FaceIndex(self.embedder.dimension)

    def embedding(self, image: np.ndarray, single: bool = True) -> tuple[Detection, np.ndarray]:
        """The main face and its embedding (enrolment and evaluation: no liveness)."""
        face = main_face(self.detector.faces(image), single)
        return face, self.embedder.embedding(image, face)

    def enrolment(self, image: np.ndarray) -> tuple[Detection, np.ndarray]:
        """The one face of an enrolment photo, live, and its embedding: a photo of a photo or of a screen is
        refused (``not_live``), so nobody is enrolled from a picture of them."""
        face = main_face(self.detector.faces(image), single=True)
        if self.liveness.score(image, face.box) < self.settings.live_at:
            raise FaceError("not_live", "未通过活体检测：请本人到场，用摄像头当场拍摄正面照片，不要翻拍照片或屏幕")
        return face, self.embedder.embedding(image, face)

    def identify(self, image: np.ndarray | bytes, single: bool = True) -> FaceResult:
        """Detect, check liveness, and only for a live face embed and search the gallery."""
        t = [time.perf_counter()]
        if isinstance(image, bytes):
            image = decoded(image)
        face = main_face(self.detector.faces(image), single)
        t.append(time.perf_counter())
        liveness = self.liveness.score(image, face.box)
        live = liveness >= self.settings.live_at
        t.append(time.perf_counter())
        match: FaceMatch | None = None
        if live:
            vector = self.embedder.embedding(image, face)
            t.append(time.perf_counter())
            best = self.index.best(vector)
            match = best if best is not None and best.similarity >= self.settings.match_at else None
            t.append(time.perf_counter())
        names = ("detect", "liveness", "embed", "search")
        timings = {n: round((b - a) * 1000, 2) for n, a, b in zip(names, t, t[1:], strict=False)}
        timings["total"] = round((t[-1] - t[0]) * 1000, 2)
        return FaceResult(
            box=face.box,
            landmarks=tuple((float(x), float(y)) for x, y in face.landmarks),  # type: ignore[arg-type]
            score=face.score,
            liveness=liveness,
            live=live,
            match=match,
            timings_ms=timings,
        )
