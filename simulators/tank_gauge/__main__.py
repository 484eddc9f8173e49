"""Run the tank gauge simulator alone: ``python -m simulators.tank_gauge [--config FILE] …``.

The YAML file is either a ``TankGaugeConfig`` mapping or a station file with a ``tank_gauge:``
key holding one. Without a file the default three-tank console is served.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

import yaml
from pydantic import ValidationError

from simulators.clock import SimClock
from simulators.tank_gauge.config import TankGaugeConfig
from simulators.tank_gauge.server import TankGaugeServer


def load_config(path: Path | None) -> TankGaugeConfig:
    """The gauge config from a YAML file (or the defaults); exits with the key that is wrong."""
    if path is None:
        return TankGaugeConfig()
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if isinstance(document, dict) and "tank_gauge" in document:
        document = document["tank_gauge"]
    try:
        return TankGaugeConfig.model_validate(document)
    except ValidationError as error:
        raise SystemExit(f"{path}: {error}") from None


async def _serve(config: TankGaugeConfig, speed: float, port: int | None) -> None:
    async with TankGaugeServer(config, SimClock(speed), port=port) as gauge:
        print(f"tank gauge: TCP 127.0.0.1:{gauge.port}  serial {gauge.serial_path or '-'}  speed {speed}x",
              flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.tank_gauge", description=__doc__)
    parser.add_argument("--config", type=Path, help="YAML with a TankGaugeConfig (or a tank_gauge: key)")
    parser.add_argument("--port", type=int, help="TCP port (default: the config's tcp_port, 10001)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--no-serial", action="store_true", help="do not open a pseudo-terminal")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    config = load_config(args.config)
    if args.no_serial:
        config = config.model_copy(update={"serial": False})
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, args.speed, args.port))


if __name__ == "__main__":
    main()
