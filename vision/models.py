"""The ONNX models of the vision pipelines: a manifest (name, file, SHA-256, source, licence) and a store.

``ModelStore(model_dir)`` hands out a checked path or an onnxruntime session per model name. A file whose
SHA-256 is not the manifest's is refused (``ModelError`` naming the file and both hashes), never loaded. A
missing file is fetched from its source into the model directory when downloading is allowed: an ``https://``
or ``file://`` URL, or ``wheel:PACKAGE/PATH`` for a file shipped inside an installed Python package (the
PP-OCRv4 recogniser comes in the ``rapidocr_onnxruntime`` wheel). ``sources`` maps a name to another URL
(tests: a local folder standing in for the public source). SFace, the licensed production embedder, has no
pinned hash here: the operator pins it (``pins``), else it is refused. docs/vision.md, "Models".
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import onnxruntime

    from forecourt.settings import Settings

#: The shared models sit beside the repository (``../shared/models``), as the camera simulator's scenes do.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "shared" / "models"

Embedder = Literal["mobilefacenet", "sface"]
_HYPERLPR = "https://raw.githubusercontent.com/szad670401/HyperLPR/58ad4ef7/resource/models/onnx/"
_ANTISPOOF = "https://raw.githubusercontent.com/yakhyo/face-anti-spoofing/c175efef/weights/"


class ModelError(RuntimeError):
    """A model cannot be used: unknown, missing, wrong hash, or not loadable. The message says what to do."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    file: str           # relative to the model directory
    sha256: str         # "" = not pinned here (the operator pins it)
    source: str         # https:// | file:// | wheel:PACKAGE/PATH
    licence: str
    purpose: str


MANIFEST: tuple[ModelSpec, ...] = (
    ModelSpec("plate_detect_320", "plate/plate_detect_y5fu_320.onnx",
              "2a985dc63a5cc947ec36d18503d6fc0fd54525b9dba17f2fe29a71e86b44456d",
              _HYPERLPR + "y5fu_320x_sim.onnx", "Apache-2.0", "plate box, 4 corners, single/double row"),
    ModelSpec("plate_detect_640", "plate/plate_detect_y5fu_640.onnx",
              "0306de937471b87f56eb3f5620815e7e7058f8ab7428e0734fc64627cc4d716c",
              _HYPERLPR + "y5fu_640x_sim.onnx", "Apache-2.0", "same, for small or far plates"),
    ModelSpec("plate_colour", "plate/plate_color_cls_96.onnx",
              "fe123688d3bf08b9ef029fcd57f3ac4644ac2e5ef8b9e7a676aacd5fad152142",
              _HYPERLPR + "litemodel_cls_96x_r1.onnx", "Apache-2.0", "plate colour: blue / green / yellow"),
    ModelSpec("plate_text", "plate/ch_PP-OCRv4_rec_infer.onnx",
              "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
              "wheel:rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", "Apache-2.0",
              "PP-OCRv4 text recogniser (rapidocr_onnxruntime==1.4.4), CTC"),
    ModelSpec("face_detect", "face/face_detect_yunet_2026may.onnx",
              "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
              "https://raw.githubusercontent.com/RuDr8A/RealTime-PPE-Compliance/d876a822/"
              "face_detection_yunet_2023mar.onnx", "MIT", "YuNet face detector, 5 landmarks"),
    ModelSpec("liveness_v2", "face/antispoof_minifasnet_v2.onnx",
              "4eed38f0bde33c9b805942a5f25e42ce1161e2bda545254be622be957727794e",
              _ANTISPOOF + "MiniFASNetV2.onnx", "Apache-2.0", "liveness, crop ×2.7"),
    ModelSpec("liveness_v1se", "face/antispoof_minifasnet_v1se.onnx",
              "d819a69bac6b9ade2a0f4d9b60b618e1260f7bf3ba1fddff6c5d82131cb1083f",
              _ANTISPOOF + "MiniFASNetV1SE.onnx", "Apache-2.0", "liveness, crop ×4.0"),
    ModelSpec("face_embed_mobilefacenet", "face/face_embed_mobilefacenet_128.onnx",
              "e72a5710cce378dc46472b6b845cb90647634f2738d8c3e581735cf195b9866f",
              "https://raw.githubusercontent.com/darzhz/pixamatch/7cc79541/models/mobilefacenet.onnx",
              "unknown: development and tests only, never shipped", "face embedding 128-d (ONNX)"),
    ModelSpec("face_embed_sface", "face/face_recognition_sface_2021dec.onnx", "",
              "https://github.com/opencv/opencv_zoo/raw/main/models/face_recognition_sface/"
              "face_recognition_sface_2021dec.onnx", "Apache-2.0",
              "production face embedding 128-d (cv2.FaceRecognizerSF)"),
)
_BY_NAME = {spec.name: spec for spec in MANIFEST}
EMBEDDER_MODEL: dict[Embedder, str] = {"mobilefacenet": "face_embed_mobilefacenet", "sface": "face_embed_sface"}


def spec(name: str) -> ModelSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(_BY_NAME)}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_source(url: str) -> Path | urllib.request.Request:
    """A local path for ``file://`` and ``wheel:`` sources, a request for ``https://``."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme == "wheel":
        package, _, inner = url.removeprefix("wheel:").partition("/")
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise ModelError(f"{url}: the Python package {package!r} is not installed (pip install it)")
        return Path(next(iter(found.submodule_search_locations))) / inner
    if parsed.scheme == "https":
        return urllib.request.Request(url, headers={"User-Agent": "forecourt-vision"})   # noqa: S310
    raise ModelError(f"{url}: a model source must be https://, file:// or wheel:PACKAGE/PATH")


class ModelStore:
    """Checked model files and onnxruntime sessions from one model directory."""

    def __init__(self, model_dir: Path = DEFAULT_MODEL_DIR, *, sources: dict[str, str] | None = None,
                 pins: dict[str, str] | None = None, download: bool = False, threads: int = 0) -> None:
        self.model_dir = Path(model_dir)
        self.sources = dict(sources or {})
        self.pins = {name: value.lower() for name, value in (pins or {}).items()}
        self.download = download
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._checked: dict[str, Path] = {}

    def expected_sha256(self, name: str) -> str:
        pinned = self.pins.get(name) or spec(name).sha256
        if not pinned:
            raise ModelError(f"model {name!r} has no pinned SHA-256: pin the hash of the file you trust "
                             f"(ModelStore pins / FORECOURT_VISION_SFACE_SHA256) before using it")
        return pinned

    def path(self, name: str) -> Path:
        """The model's file, present and with the expected SHA-256 (fetched first if allowed and missing)."""
        if name in self._checked:
            return self._checked[name]
        expected = self.expected_sha256(name)
        target = self.model_dir / spec(name).file
        if not target.is_file():
            if not self.download:
                raise ModelError(f"model file {target} is missing: copy it there, or allow downloading "
                                 f"(FORECOURT_VISION_DOWNLOAD=true) from {self.source(name)}")
            self._fetch(name, target, expected)
        actual = sha256_of(target)
        if actual != expected:
            raise ModelError(f"model file {target} has SHA-256 {actual}, expected {expected}: "
                             f"the file is damaged or not the one in the manifest; replace it")
        self._checked[name] = target
        return target

    def source(self, name: str) -> str:
        return self.sources.get(name) or spec(name).source

    def _fetch(self, name: str, target: Path, expected: str) -> None:
        url = self.source(name)
        origin = _open_source(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".download-", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                if isinstance(origin, Path):
                    if not origin.is_file():
                        raise ModelError(f"model {name!r}: the source {url} has no such file")
                    with origin.open("rb") as stream:
                        shutil.copyfileobj(stream, out)
                else:
                    with urllib.request.urlopen(origin, timeout=60) as stream:  # noqa: S310 (scheme checked)
                        shutil.copyfileobj(stream, out)
            actual = sha256_of(Path(temporary))
            if actual != expected:
                raise ModelError(f"model {name!r} downloaded from {url} has SHA-256 {actual}, expected "
                                 f"{expected}: the source changed or is not the published file; not installed")
            os.replace(temporary, target)   # atomic: a half-written file is never taken for the model
        except OSError as exc:
            raise ModelError(f"model {name!r}: cannot fetch {url} into {target}: {exc}") from exc
        finally:
            Path(temporary).unlink(missing_ok=True)

    def session(self, name: str) -> onnxruntime.InferenceSession:
        """An onnxruntime CPU session for the checked file (``threads`` intra-op threads, one inter-op)."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        path = self.path(name)
        try:
            return onnxruntime.InferenceSession(str(path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:   # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"model file {path} does not load in onnxruntime: {exc}") from exc

    def embedder(self, which: Embedder) -> str:
        """The model name of the chosen face embedder (setting ``FORECOURT_VISION_EMBEDDER``)."""
        return EMBEDDER_MODEL[which]


def store_from_settings(settings: Settings) -> ModelStore:
    """The store a service uses: ``FORECOURT_VISION_MODELS``, ``…_DOWNLOAD``, ``…_SFACE_SHA256``."""
    pins = {"face_embed_sface": settings.vision_sface_sha256} if settings.vision_sface_sha256 else {}
    return ModelStore(settings.vision_models or DEFAULT_MODEL_DIR, pins=pins, download=settings.vision_download)
