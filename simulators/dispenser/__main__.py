"""Run one dispenser simulator alone: ``python -m simulators.dispenser --help``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from simulators.clock import SimClock
from simulators.dispenser.config import DispenserConfig
from simulators.dispenser.server import DEFAULT_PORT, run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.dispenser", description=__doc__)
    parser.add_argument("--config", type=Path, help="YAML file with a DispenserConfig mapping (default: 2 FPs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = DispenserConfig.from_yaml(args.config) if args.config else DispenserConfig()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(config, SimClock(args.speed), host=args.host, port=args.port))


if __name__ == "__main__":
    main()
