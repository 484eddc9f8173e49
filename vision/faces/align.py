"""Five-point similarity alignment to the standard 112×112 ArcFace template (pure numpy, no models)."""

from __future__ import annotations

import numpy as np

# right eye, left eye (of the person: image left, image right), nose, right/left mouth corner — YuNet's order
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 rotation + uniform scale + translation that maps ``src`` points onto ``dst`` best in the
    least-squares sense (Umeyama, 1991)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mean_s, mean_d = src.mean(axis=0), dst.mean(axis=0)
    cs, cd = src - mean_s, dst - mean_d
    cov = cd.T @ cs / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = (cs**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s) if var_s > 0 else 1.0
    t = mean_d - scale * rot @ mean_s
    return np.hstack([scale * rot, t[:, None]])


def aligned(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The face cut out and warped so that its five points sit on the template."""
    import cv2

    m = similarity(landmarks, ARCFACE_112 * (size / 112.0))
    return cv2.warpAffine(image, m, (size, size), borderValue=(0, 0, 0))
