"""The camera's greyscale JPEG encoder, the COM stamp and the empty-lane frame.

The round-trip test decodes with a minimal baseline decoder written here from ITU T.81, so
bit packing, byte stuffing, Huffman and DCT are checked together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from simulators.camera.config import DEFAULT_SCENES_DIR
from simulators.camera.frames import empty_lane_image, empty_lane_jpeg, make_frame
from simulators.camera.glyphs import draw_text, text_width
from simulators.camera.jpeg import (
    _AC_CODES,
    _DC_CODES,
    _DCT,
    ZIGZAG,
    comment_of,
    dimensions,
    encode_greyscale,
    quant_table,
    stamp,
)

SCENE = DEFAULT_SCENES_DIR / "ccpd_000.jpg"


def segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of the header segments up to and including SOS."""
    found, offset = [], 2
    while True:
        marker, length = jpeg[offset + 1], int.from_bytes(jpeg[offset + 2 : offset + 4], "big")
        found.append((marker, jpeg[offset + 4 : offset + 2 + length]))
        offset += 2 + length
        if marker == 0xDA:
            return found


def decode_greyscale(jpeg: bytes) -> npt.NDArray[np.uint8]:
    """Just enough of a baseline decoder for what ``encode_greyscale`` writes."""
    header = dict(segments(jpeg))
    height, width = int.from_bytes(header[0xC0][1:3], "big"), int.from_bytes(header[0xC0][3:5], "big")
    table = np.zeros(64)
    table[list(ZIGZAG)] = list(header[0xDB][1:65])
    start = jpeg.index(b"\xff\xda") + 2 + int.from_bytes(jpeg[jpeg.index(b"\xff\xda") + 2 :][:2], "big")
    data = jpeg[start:-2].replace(b"\xff\x00", b"\xff")
    bits = "".join(f"{byte:08b}" for byte in data)
    dc_lookup = {format(code, f"0{n}b"): symbol for symbol, (code, n) in _DC_CODES.items()}
    ac_lookup = {format(code, f"0{n}b"): symbol for symbol, (code, n) in _AC_CODES.items()}
    position = 0

    def symbol(lookup: dict[str, int]) -> int:
        nonlocal position
        for length in range(1, 17):
            if (key := bits[position : position + length]) in lookup:
                position += length
                return lookup[key]
        raise AssertionError("no Huffman code matches")

    def value(size: int) -> int:
        nonlocal position
        raw = int(bits[position : position + size], 2) if size else 0
        position += size
        return raw if size == 0 or raw >= 1 << (size - 1) else raw - (1 << size) + 1

    rows, cols = -(-height // 8), -(-width // 8)
    image = np.zeros((rows * 8, cols * 8))
    dc = 0
    for block in range(rows * cols):
        zz = np.zeros(64)
        dc += value(symbol(dc_lookup))
        zz[0] = dc
        k = 1
        while k < 64:
            rs = symbol(ac_lookup)
            if rs == 0x00:
                break
            k += rs >> 4
            zz[k] = value(rs & 0x0F)
            k += 1
        coefficients = np.zeros(64)
        coefficients[list(ZIGZAG)] = zz
        spatial = _DCT.T @ (coefficients * table).reshape(8, 8) @ _DCT + 128
        r, c = divmod(block, cols)
        image[r * 8 : r * 8 + 8, c * 8 : c * 8 + 8] = spatial
    return np.clip(np.rint(image[:height, :width]), 0, 255).astype(np.uint8)


def test_zigzag_order_starts_as_in_t81() -> None:
    assert ZIGZAG[:10] == (0, 1, 8, 16, 9, 2, 3, 10, 17, 24)
    assert ZIGZAG[-3:] == (55, 62, 63) and sorted(ZIGZAG) == list(range(64))


def test_standard_huffman_codes() -> None:
    assert _DC_CODES[0] == (0b00, 2) and _DC_CODES[11] == (0b111111110, 9)
    assert _AC_CODES[0x00] == (0b1010, 4)  # end of block
    assert _AC_CODES[0x01] == (0b00, 2)
    assert _AC_CODES[0xF0] == (0b11111111001, 11)  # sixteen zeros
    assert len(_AC_CODES) == 162


def test_quality_scales_the_table() -> None:
    assert quant_table(50)[0, 0] == 16
    assert quant_table(100).max() == 1
    assert quant_table(10)[0, 0] == 80
    with pytest.raises(ValueError):
        quant_table(0)


def test_round_trip_of_a_detailed_image() -> None:
    y, x = np.mgrid[0:37, 0:53]
    image = ((x * 5) ^ (y * 7)).astype(np.uint8)
    image[10:14, :] = 255  # long runs of 0xFF bytes exercise byte stuffing
    jpeg = encode_greyscale(image, quality=95)
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    assert dimensions(jpeg) == (53, 37)
    error = np.abs(decode_greyscale(jpeg).astype(int) - image.astype(int))
    assert error.mean() < 3.0


def test_rejects_colour_or_empty_arrays() -> None:
    with pytest.raises(ValueError):
        encode_greyscale(np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        encode_greyscale(np.zeros((0, 8), dtype=np.uint8))


def test_stamp_keeps_jfif_first_and_is_readable() -> None:
    jpeg = encode_greyscale(np.full((16, 16), 100, dtype=np.uint8))
    comment = "forecourt-camera code=CAM-01 seq=7"
    stamped = stamp(jpeg, comment)
    markers = [marker for marker, _ in segments(stamped)]
    assert markers[:2] == [0xE0, 0xFE]
    assert comment_of(stamped) == comment
    assert comment_of(jpeg) is None
    app0_end = 2 + 2 + 16
    assert stamped[:app0_end] + stamped[app0_end + 4 + len(comment) :] == jpeg
    with pytest.raises(ValueError):
        stamp(b"GIF89a", "x")


@pytest.mark.skipif(not SCENE.is_file(), reason="shared scene images not present")
def test_stamp_on_a_real_scene_keeps_the_picture() -> None:
    original = Path(SCENE).read_bytes()
    frame = make_frame(original, "CAM-02", 3, datetime(2026, 1, 1, tzinfo=UTC), SCENE.name)
    assert frame.jpeg.endswith(original[-5000:])
    assert dimensions(frame.jpeg) == dimensions(original) == (720, 1160)
    assert comment_of(frame.jpeg) == (
        "forecourt-camera code=CAM-02 seq=3 ts=2026-01-01T00:00:00+00:00 scene=ccpd_000.jpg"
    )


def test_empty_lane_shows_the_camera_code() -> None:
    with_code = empty_lane_image("CAM-01", 1, 160, 120)
    other = empty_lane_image("CAM-02", 1, 160, 120)
    assert with_code.shape == (120, 160)
    assert (with_code != other).any()
    jpeg = empty_lane_jpeg("CAM-01", 1, 160, 120, 75)
    assert dimensions(jpeg) == (160, 120)
    assert np.abs(decode_greyscale(jpeg).astype(int) - with_code.astype(int)).mean() < 6.0


def test_text_is_drawn_and_clipped() -> None:
    canvas = np.zeros((10, 20), dtype=np.uint8)
    draw_text(canvas, "HI", 1, 1, 1, 200)
    assert text_width("HI", 1) == 11
    assert canvas[1:8, 1:12].any() and not canvas[:, 12:].any()
    draw_text(canvas, "WIDE TEXT", 15, 5, 3, 255)  # runs off the edges without error
