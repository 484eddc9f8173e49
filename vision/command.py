"""``forecourt vision …`` commands: print a report, exit 2 with one line on a wrong folder or model."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from forecourt.settings import Settings
from vision.eval import EvalError, evaluate_plates, plate_samples
from vision.models import ModelError, store_from_settings
from vision.plates.reader import PlateReader, PlateReaderSettings


def eval_plates_command(settings: Settings, directory: Path, threshold: float | None) -> int:
    try:
        samples = plate_samples(directory)
        reader_settings = PlateReaderSettings()
        if threshold is not None:
            reader_settings = replace(reader_settings, threshold=threshold)
        reader = PlateReader(store_from_settings(settings), reader_settings)
    except (EvalError, ModelError) as exc:
        print(f"无法评估 (cannot evaluate): {exc}", file=sys.stderr)
        return 2
    print(f"plates in {directory} (threshold {reader_settings.threshold:.2f})")
    for kind, report in evaluate_plates(reader, samples).items():
        print(f"== {kind}")
        print("\n".join(report.lines()))
    return 0
