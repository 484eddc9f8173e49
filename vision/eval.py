"""Evaluation as a command: ``forecourt vision eval plates DIR`` (docs/vision.md, "Evaluation").

DIR holds a ``labels.csv`` (file, plate, color, kind, …: the format of ../shared/data/vision/plates; ``kind``
scene = a whole picture, crop = one plate), or is a sub-folder of a folder that does (its rows are used), or
holds plate crops whose file name is the plate text. The
report: exact-match rate, certain right / certain wrong (what a payment would act on), per-colour and
per-character errors, detector misses, unreadable files, latency p50 / p99. Timing is measured, never asserted.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vision.plates.formats import plate_format
from vision.plates.reader import PlateReader, PlateReadError, decode_image
from vision.readings import PlateReading

_IMAGES = (".jpg", ".jpeg", ".png", ".bmp")


class EvalError(ValueError):
    """The folder cannot be evaluated (missing, no images, a bad labels.csv); the message says why."""


@dataclass(frozen=True, slots=True)
class PlateSample:
    path: Path
    plate: str
    colour: str        # "" when not labelled
    scene: bool        # True: find the plate first; False: the image is the plate


@dataclass(slots=True)
class PlateReport:
    samples: int = 0
    exact: int = 0
    certain_right: int = 0
    certain_wrong: int = 0
    uncertain: int = 0
    missed: int = 0                         # scenes where the detector found no plate
    unreadable: list[str] = field(default_factory=list)
    by_colour: dict[str, list[int]] = field(default_factory=dict)      # colour → [exact, samples]
    colour_errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    char_errors: Counter[tuple[str, str]] = field(default_factory=Counter)   # (expected, read); "∅" = none
    wrong: list[tuple[str, str, str]] = field(default_factory=list)          # file, expected, read
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, sample: PlateSample, reading: PlateReading | None, elapsed_ms: float) -> None:
        self.samples += 1
        self.latencies_ms.append(elapsed_ms)
        text = reading.text if reading else ""
        right = text == sample.plate
        self.exact += right
        if reading is None:
            self.missed += 1
        elif reading.uncertain:
            self.uncertain += 1
        elif right:
            self.certain_right += 1
        else:
            self.certain_wrong += 1
        if sample.colour:
            tally = self.by_colour.setdefault(sample.colour, [0, 0])
            tally[0] += right
            tally[1] += 1
            if reading is not None and reading.colour != sample.colour:
                self.colour_errors[(sample.colour, reading.colour)] += 1
        if not right:
            self.wrong.append((sample.path.name, sample.plate, text))
            self.char_errors.update(char_errors(sample.plate, text))

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def lines(self) -> list[str]:
        n = max(self.samples, 1)
        out = [f"samples {self.samples}  exact {self.exact} ({self.exact / n:.1%})  "
               f"certain right {self.certain_right}  certain wrong {self.certain_wrong}  "
               f"uncertain {self.uncertain}  detector misses {self.missed}  unreadable files {len(self.unreadable)}"]
        for colour, (exact, total) in sorted(self.by_colour.items()):
            out.append(f"colour {colour}: {exact}/{total} exact")
        for (expected, read), count in self.colour_errors.most_common():
            out.append(f"colour error {expected} → {read}: {count}")
        for (expected, read), count in self.char_errors.most_common(15):
            out.append(f"character error {expected} → {read}: {count}")
        for name, expected, read in self.wrong[:30]:
            out.append(f"wrong {name}: {expected} read as {read or '(nothing)'}")
        out.extend(f"unreadable {name}" for name in self.unreadable)
        if self.latencies_ms:
            out.append(f"latency p50 {self.percentile(0.5):.1f} ms  p99 {self.percentile(0.99):.1f} ms  "
                       f"mean {statistics.fmean(self.latencies_ms):.1f} ms")
        return out


def char_errors(expected: str, read: str) -> list[tuple[str, str]]:
    """Position by position when the lengths agree; otherwise every expected character not read in order."""
    if len(expected) == len(read):
        return [(e, r) for e, r in zip(expected, read, strict=True) if e != r]
    missing = Counter(expected) - Counter(read)
    return [(char, "∅") for char in sorted(missing.elements())] or [("∅", "+")]


def plate_samples(directory: Path) -> list[PlateSample]:
    if not directory.is_dir():
        raise EvalError(f"{directory} is not a folder")
    labels = directory / "labels.csv"
    if labels.is_file():
        return list(_labelled(directory, labels))
    parent = directory.parent / "labels.csv"     # a sub-folder of a labelled set (plates/crops, plates/scenes)
    if parent.is_file():
        inside = [s for s in _labelled(directory.parent, parent) if s.path.parent == directory]
        if inside:
            return inside
    samples = [PlateSample(path, path.stem, "", scene=False) for path in sorted(directory.iterdir())
               if path.suffix.lower() in _IMAGES and plate_format(path.stem) is not None]
    if not samples:
        raise EvalError(f"{directory} has no labels.csv and no images (.jpg, .png) named by their plate text")
    return samples


def _labelled(directory: Path, labels: Path) -> Iterator[PlateSample]:
    with labels.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = {"file", "plate"} - set(reader.fieldnames or ())
        if missing:
            raise EvalError(f"{labels}: no column {', '.join(sorted(missing))} (need file, plate[, color, kind])")
        for row in reader:
            yield PlateSample(directory / row["file"], row["plate"].strip(), (row.get("color") or "").strip(),
                              scene=(row.get("kind") or "scene").strip() != "crop")


def evaluate_plates(reader: PlateReader, samples: list[PlateSample]) -> dict[str, PlateReport]:
    """One report for the scenes and one for the crops (whichever the samples have)."""
    reports: dict[str, PlateReport] = {}
    for sample in samples:
        report = reports.setdefault("scenes" if sample.scene else "crops", PlateReport())
        try:
            image = decode_image(sample.path.read_bytes())
        except (OSError, PlateReadError) as exc:
            report.unreadable.append(f"{sample.path.name}: {exc}")
            continue
        started = time.perf_counter()
        if sample.scene:
            found = reader.read(image)
            reading = found[0] if found else None
        else:
            reading = reader.read_plate(image)
        report.add(sample, reading, (time.perf_counter() - started) * 1000.0)
    return reports
