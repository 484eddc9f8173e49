"""CTC decoding restricted to the plate alphabet, and the geometry of the reader (pure, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from vision.plates.geometry import join_rows, letterbox, nms, warp
from vision.plates.reader import PlateReadError, check_image, decode_image
from vision.plates.recogniser import ctc_decode

CHARS = ["<blank>", "京", "A", "O", "0", "1", "·", "棕", " "]


def steps(*rows: dict[int, float]) -> np.ndarray:
    out = np.full((len(rows), len(CHARS)), 0.0, np.float32)
    for t, row in enumerate(rows):
        for index, p in row.items():
            out[t, index] = p
    return out


def test_repeats_merge_blanks_split_and_separators_drop() -> None:
    probs = steps({1: 0.9}, {1: 0.95}, {6: 0.9}, {2: 0.8}, {0: 0.9}, {5: 0.7}, {0: 0.9}, {5: 0.6})
    read = ctc_decode(probs, CHARS)
    assert read.text == "京A11"
    assert read.probabilities == pytest.approx((0.95, 0.8, 0.7, 0.6))
    assert read.confidence == pytest.approx(0.6)


def test_restricted_to_the_alphabet_an_o_becomes_the_zero_and_a_lookalike_the_province() -> None:
    probs = steps({7: 0.6, 1: 0.3}, {0: 1.0}, {3: 0.7, 4: 0.2})
    allowed = np.array([0, 1, 2, 4, 5], np.intp)
    read = ctc_decode(probs, CHARS, allowed)
    assert read.text == "京0"
    assert read.probabilities[0] == pytest.approx(1.0)   # renormalised over the allowed classes
    assert ctc_decode(probs, CHARS).text == "棕O"


def test_nothing_but_blanks_is_an_empty_read_with_zero_confidence() -> None:
    read = ctc_decode(steps({0: 1.0}, {0: 1.0}), CHARS)
    assert read.text == "" and read.confidence == 0.0


def test_letterbox_maps_points_back_to_the_image() -> None:
    image = np.zeros((1160, 720, 3), np.uint8)
    canvas, frame = letterbox(image, 320)
    assert canvas.shape == (320, 320, 3)
    point = np.array([[frame.left + 100 * frame.scale, frame.top + 500 * frame.scale]], np.float32)
    assert frame.to_image(point) == pytest.approx(np.array([[100.0, 500.0]]), abs=1e-3)


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_ones() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.5], np.float32), 0.5) == [1, 2]


def test_warp_rectifies_the_quadrilateral_and_double_rows_join_into_one_line() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[20:40, 50:150] = 255
    corners = np.array([[50, 20], [149, 20], [149, 39], [50, 39]], np.float32)
    plate = warp(image, corners, 100, 20)
    assert plate.shape == (20, 100, 3) and plate.mean() > 250
    line = join_rows(np.zeros((80, 160, 3), np.uint8))
    assert line.shape == (48, 80 + 160, 3)


def test_a_corrupt_or_empty_image_is_a_clear_error() -> None:
    with pytest.raises(PlateReadError, match="empty"):
        decode_image(b"")
    with pytest.raises(PlateReadError, match="not a readable"):
        decode_image(b"\xff\xd8\xff\xe0 truncated jpeg")
    with pytest.raises(PlateReadError, match="empty"):
        check_image(np.zeros((0, 0, 3), np.uint8))
    assert check_image(np.zeros((4, 4), np.uint8)).shape == (4, 4, 3)
