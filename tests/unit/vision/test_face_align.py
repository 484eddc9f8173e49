"""The 5-point similarity alignment (pure geometry)."""

import numpy as np

from vision.faces.align import ARCFACE_112, similarity


def test_a_rotated_scaled_shifted_template_maps_back_exactly() -> None:
    angle, scale, shift = np.deg2rad(20), 2.5, np.array([300.0, 120.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    seen = ARCFACE_112 @ (scale * rot).T + shift
    m = similarity(seen, ARCFACE_112)
    back = seen @ m[:, :2].T + m[:, 2]
    assert np.allclose(back, ARCFACE_112, atol=1e-6)
    assert np.isclose(np.hypot(m[0, 0], m[1, 0]), 1 / scale)


def test_a_mirrored_face_is_not_aligned_by_a_reflection() -> None:
    mirrored = ARCFACE_112 * np.array([-1.0, 1.0]) + np.array([112.0, 0.0])
    m = similarity(mirrored, ARCFACE_112)
    assert np.linalg.det(m[:, :2]) > 0          # rotation and scale only
