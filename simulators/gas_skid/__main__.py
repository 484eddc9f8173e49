"""Run the gas skid simulator alone: ``python -m simulators.gas_skid [--port 4840] [--speed 1] [--config f.yaml]``.

The YAML file holds a ``GasSkidConfig`` mapping, either at the top level or under a ``gas_skid`` key
(the shape of a station file's gas skid section). Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

import yaml

from simulators.clock import SimClock
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.server import DEFAULT_PORT, run


def load_config(path: Path | None) -> GasSkidConfig:
    if path is None:
        return GasSkidConfig()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = data.get("gas_skid", data) if isinstance(data, dict) else data
    return GasSkidConfig.model_validate(section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--config", type=Path, default=None, help="YAML with the gas skid settings")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    config = load_config(args.config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(config, SimClock(args.speed), host=args.host, port=args.port))


if __name__ == "__main__":
    main()
