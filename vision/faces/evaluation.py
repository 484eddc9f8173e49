"""Face figures on a labelled folder (``labels.csv``: file, identity): detector misses, same/different pairs
(EER, TAR at FAR 1 % and 0.1 %), liveness errors (identities ``live_real`` / ``live_fake``), latency.

The pure figure arithmetic (``eer``, ``tar_at``) is apart from the file reading."""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vision.faces.pipeline import FaceError, FacePipeline, decoded

if TYPE_CHECKING:
    from forecourt.settings import Settings


def eer(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """The equal error rate and the threshold where the false accept and false reject rates cross."""
    best = (1.0, 0.0)
    for t in np.unique(np.concatenate([same, different])):
        far = float((different >= t).mean())
        frr = float((same < t).mean())
        rate = max(far, frr)
        if rate < best[0]:
            best = (rate, float(t))
    return best


def tar_at(same: np.ndarray, different: np.ndarray, far: float) -> float:
    """True accept rate at the lowest threshold whose false accept rate is at most ``far``."""
    ordered = np.sort(different)[::-1]
    allowed = int(np.floor(far * len(ordered)))
    threshold = ordered[allowed] if allowed < len(ordered) else -1.0
    return float((same > threshold).mean())


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


@dataclass
class FaceFigures:
    photos: int = 0
    found: int = 0
    missed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    same_pairs: int = 0
    different_pairs: int = 0
    eer: float = 0.0
    eer_threshold: float = 0.0
    tar_far_1: float = 0.0
    tar_far_01: float = 0.0
    liveness_errors: list[str] = field(default_factory=list)
    liveness_checked: int = 0
    latency_ms: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"photos {self.photos}, faces found {self.found}, detector misses {len(self.missed)}"
            + (f" ({', '.join(self.missed)})" if self.missed else "")
            + (f", unreadable {', '.join(self.unreadable)}" if self.unreadable else ""),
            f"pairs: same {self.same_pairs}, different {self.different_pairs}; "
            f"EER {self.eer:.2%} at similarity {self.eer_threshold:.3f}",
            f"TAR at FAR 1% {self.tar_far_1:.2%}, at FAR 0.1% {self.tar_far_01:.2%}",
            f"liveness: {self.liveness_checked} checked, errors {len(self.liveness_errors)}"
            + (f" ({', '.join(self.liveness_errors)})" if self.liveness_errors else ""),
            f"latency per photo (detect+liveness+embed): p50 {percentile(self.latency_ms, 50):.1f} ms, "
            f"p99 {percentile(self.latency_ms, 99):.1f} ms",
        ]


def evaluate(folder: Path, pipeline: FacePipeline) -> FaceFigures:
    figures = FaceFigures()
    embeddings: list[np.ndarray] = []
    identities: list[str] = []
    with (folder / "labels.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        figures.photos += 1
        name, identity = row["file"], row["identity"]
        try:
            image = decoded((folder / name).read_bytes())
        except (OSError, FaceError):
            figures.unreadable.append(name)
            continue
        start = time.perf_counter()
        try:
            face, vector = pipeline.embedding(image, single=False)
        except FaceError:
            figures.missed.append(name)
            continue
        figures.found += 1
        live = pipeline.liveness.score(image, face.box) >= pipeline.settings.live_at
        figures.latency_ms.append((time.perf_counter() - start) * 1000)
        if identity in ("live_real", "live_fake"):
            figures.liveness_checked += 1
            if live != (identity == "live_real"):
                figures.liveness_errors.append(name)
        else:
            embeddings.append(vector)
            identities.append(identity)
    if len(embeddings) > 1:
        matrix = np.stack(embeddings)
        sims = matrix @ matrix.T
        upper = np.triu_indices(len(identities), 1)
        labels = np.array(identities)
        same_mask = labels[upper[0]] == labels[upper[1]]
        same, different = sims[upper][same_mask], sims[upper][~same_mask]
        figures.same_pairs, figures.different_pairs = len(same), len(different)
        if len(same) and len(different):
            figures.eer, figures.eer_threshold = eer(same, different)
            figures.tar_far_1 = tar_at(same, different, 0.01)
            figures.tar_far_01 = tar_at(same, different, 0.001)
    return figures


def faces_command(folder: Path, settings: Settings) -> int:
    """``forecourt vision eval faces DIR``: the figures, one per line; 2 when the folder or a model is unusable."""
    from vision.faces.pipeline import FaceSettings
    from vision.models import ModelError, store_from_settings

    if not (folder / "labels.csv").is_file():
        print(f"无法评估 (cannot evaluate): {folder / 'labels.csv'} 不存在 (labels.csv is missing)", file=sys.stderr)
        return 2
    try:
        pipeline = FacePipeline(store_from_settings(settings), FaceSettings(embedder=settings.vision_embedder))
        figures = evaluate(folder, pipeline)
    except (ModelError, KeyError) as exc:
        print(f"无法评估 (cannot evaluate): {exc}", file=sys.stderr)
        return 2
    print(f"faces in {folder} (embedder {settings.vision_embedder}):")
    for line in figures.lines():
        print("  " + line)
    return 0
