"""Plate formats (pure): which texts are plates, of which kind, and the colour reported."""

from __future__ import annotations

import pytest

from vision.plates.formats import plate_format, settle_colour


@pytest.mark.parametrize(("text", "kind"), [
    ("京A12345", "standard"), ("苏CFY773", "standard"), ("粤BD12345", "new_energy"), ("皖AD11166", "new_energy"),
    ("沪A12345D", "new_energy"), ("京A1234学", "coach"), ("京A1234警", "police"), ("鲁B1234挂", "trailer"),
    ("粤Z1234港", "hong_kong"), ("粤Z1234澳", "macau"), ("使014578", "embassy"), ("沪A1234领", "consulate"),
])
def test_each_kind_is_recognised(text: str, kind: str) -> None:
    fmt = plate_format(text)
    assert fmt is not None and fmt.kind == kind


@pytest.mark.parametrize("text", [
    "", "京A1234", "京A123456", "AA12345", "京I12345", "京AO2345", "京A12O45", "京A1234港", "粤BA12345",
    "京A12345学", "使01457", "皖AOC911",
])
def test_what_fits_no_format_is_no_plate(text: str) -> None:
    assert plate_format(text) is None


def test_a_one_colour_kind_decides_the_colour_and_a_confident_contrary_classifier_casts_doubt() -> None:
    new_energy = plate_format("粤BD12345")
    assert new_energy is not None
    assert settle_colour(new_energy, "green", 0.9) == ("green", "")
    assert settle_colour(new_energy, "blue", 0.5) == ("green", "")
    colour, doubt = settle_colour(new_energy, "blue", 0.999)
    assert colour == "green" and "不符" in doubt


def test_a_standard_plate_keeps_the_seen_colour_or_reports_unknown() -> None:
    standard = plate_format("京A12345")
    assert standard is not None
    assert settle_colour(standard, "yellow", 0.8) == ("yellow", "")
    assert settle_colour(standard, "green", 0.99) == ("unknown", "")
