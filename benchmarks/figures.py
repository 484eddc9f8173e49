"""A measured figure and the helpers to time things."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    note: str = ""

    def as_dict(self, suite: str) -> dict[str, object]:
        out: dict[str, object] = {"suite": suite, "figure": self.name, "value": round(self.value, 3),
                                  "unit": self.unit, "machine": f"{platform.machine()} {platform.python_version()}"}
        if self.baseline is not None:
            out.update(baseline=round(self.baseline, 3), baseline_name=self.baseline_name,
                       ratio=round(self.value / self.baseline, 3) if self.baseline else None)
        if self.note:
            out["note"] = self.note
        return out


def rate(fn: Callable[[], object], items_per_call: int, min_seconds: float = 1.0) -> float:
    """Items per second of ``fn`` over at least ``min_seconds`` (best of three rounds)."""
    best = 0.0
    for _ in range(3):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < min_seconds / 3:
            fn()
            calls += 1
        best = max(best, calls * items_per_call / elapsed)
    return best
