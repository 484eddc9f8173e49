"""Voting across the frames of one car: the plate most frames read with confidence wins (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from vision.readings import PlateReading


@dataclass(frozen=True, slots=True)
class Vote:
    reading: PlateReading     # the winning text's most confident frame
    frames: int               # how many frames read exactly this text
    of: int                   # how many frames had a confident reading at all
    confidence: float         # the winner's mean confidence × its share of the confident frames


def vote(readings: Iterable[PlateReading], *, min_frames: int = 1) -> Vote | None:
    """The winner among the certain readings, or None when none is certain or the winner has fewer than
    ``min_frames`` agreeing frames. Ties: more summed confidence wins, then the text (stable)."""
    certain = [r for r in readings if not r.uncertain and r.text]
    if not certain:
        return None
    counts = Counter(r.text for r in certain)
    total = {text: sum(r.confidence for r in certain if r.text == text) for text in counts}
    text = max(counts, key=lambda t: (counts[t], total[t], t))
    if counts[text] < min_frames:
        return None
    agreeing = [r for r in certain if r.text == text]
    colours = Counter(r.colour for r in agreeing)
    colour = max(colours, key=lambda c: (colours[c], c))
    best = max((r for r in agreeing if r.colour == colour), key=lambda r: r.confidence)
    share = counts[text] / len(certain)
    return Vote(best, counts[text], len(certain), total[text] / counts[text] * share)
