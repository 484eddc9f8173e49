"""Voting across frames (pure)."""

from __future__ import annotations

from vision.plates import vote
from vision.readings import PlateReading


def reading(text: str, confidence: float = 0.9, colour: str = "blue", uncertain: bool = False) -> PlateReading:
    corners = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    return PlateReading(text, colour, confidence, (0.0, 0.0, 1.0, 1.0), corners, uncertain=uncertain,
                        reason="dirty" if uncertain else "")


def test_the_text_most_frames_agree_on_wins_with_its_count() -> None:
    result = vote([reading("京A12345"), reading("京A12346", 0.99), reading("京A12345", 0.8), reading("京A12345")])
    assert result is not None
    assert result.reading.text == "京A12345" and result.frames == 3 and result.of == 4
    assert result.reading.confidence == 0.9      # the winner's most confident frame
    assert 0 < result.confidence < 0.9


def test_uncertain_frames_do_not_vote_and_all_uncertain_is_no_result() -> None:
    assert vote([reading("京A12345", uncertain=True), reading("", uncertain=True)]) is None
    result = vote([reading("京A12346", uncertain=True)] * 5 + [reading("京A12345")])
    assert result is not None and result.reading.text == "京A12345" and result.frames == 1 and result.of == 1


def test_a_tie_goes_to_the_more_confident_text_and_min_frames_is_respected() -> None:
    frames = [reading("京A12345", 0.7), reading("京A12346", 0.95)]
    result = vote(frames)
    assert result is not None and result.reading.text == "京A12346"
    assert vote(frames, min_frames=2) is None


def test_the_colour_is_the_majority_among_the_winning_frames() -> None:
    result = vote([reading("京A12345", colour="yellow"), reading("京A12345", colour="blue"),
                   reading("京A12345", colour="yellow", confidence=0.6)])
    assert result is not None and result.reading.colour == "yellow"
