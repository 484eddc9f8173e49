"""Run one gas-detector line alone.

    python -m simulators.gas_detector [--config station.yaml] [--speed 1] [--port 15030 | --no-tcp]
                                      [--link /tmp/ttyGAS0]

The YAML may be a whole station file with a ``gas_detectors`` key or just that part. The
serial port path (and the symlink, if asked for) is logged at start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

import yaml

from simulators.clock import SimClock
from simulators.gas_detector.config import GasDetectorLineConfig
from simulators.gas_detector.server import DEFAULT_RTU_TCP_PORT, run
from simulators.running import until_terminated


def load_config(path: Path | None, link: Path | None) -> GasDetectorLineConfig:
    document: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        section = loaded.get("gas_detectors", loaded) if isinstance(loaded, dict) else None
        if not isinstance(section, dict):
            raise SystemExit(f"{path}: expected a mapping (or a gas_detectors: mapping)")
        document = section
    if link is not None:
        document = {**document, "link_path": str(link)}
    return GasDetectorLineConfig.model_validate(document)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.gas_detector", description=__doc__)
    parser.add_argument("--config", type=Path, help="station YAML (gas_detectors part)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_RTU_TCP_PORT, help="RTU-over-TCP port")
    parser.add_argument("--no-tcp", action="store_true", help="serve the pty only")
    parser.add_argument("--link", type=Path, help="symlink to create for the pty slave")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = load_config(args.config, args.link)
    port = None if args.no_tcp else args.port
    asyncio.run(until_terminated(run(config, SimClock(args.speed), host=args.host, port=port)))


if __name__ == "__main__":
    main()
