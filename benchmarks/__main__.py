"""Run every ``benchmarks/bench_*.py`` (or the ones named) and print one JSON line per figure.

    .venv/bin/python -m benchmarks                 # all
    .venv/bin/python -m benchmarks codecs          # only bench_codecs.py

Each module has ``run() -> list[Figure]`` (sync or async). A figure carries its baseline, measured
in the same run on the same machine, and the ratio between them, so numbers stay comparable
across machines.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from pathlib import Path

from benchmarks.figures import Figure


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        result = module.run()
        figures: list[Figure] = asyncio.run(result) if inspect.iscoroutine(result) else result
        for figure in figures:
            print(json.dumps(figure.as_dict(name), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
