"""Run the lane cameras alone.

    python -m simulators.camera [--config station.yaml] [--port 18081] [--scenes DIR] [--speed 1]

The YAML may be a whole station file with a ``cameras`` key or just that part. Scenario
events (car arrived / left) come from whoever embeds ``CameraServer``; run alone, every
camera shows its empty lane unless ``--car CODE=IMAGE`` puts a vehicle in front of it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

import yaml

from simulators.camera.config import CameraSetConfig
from simulators.camera.server import DEFAULT_CAMERA_HTTP_PORT, CameraServer
from simulators.clock import SimClock
from simulators.running import until_terminated


def load_config(path: Path | None, scenes: Path | None) -> CameraSetConfig:
    document: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        section = loaded.get("cameras", loaded) if isinstance(loaded, dict) else None
        if isinstance(section, list):  # a station file may list the cameras directly
            section = {"cameras": section}
        if not isinstance(section, dict):
            raise SystemExit(f"{path}: expected a mapping (or a cameras: section)")
        document = section
    if scenes is not None:
        document = {**document, "scenes_dir": str(scenes)}
    return CameraSetConfig.model_validate(document)


async def serve(config: CameraSetConfig, clock: SimClock, host: str, port: int, cars: list[str]) -> None:
    async with CameraServer(config, clock, host=host, port=port) as server:
        for assignment in cars:
            code, _, image = assignment.partition("=")
            server.camera(code).car_arrived(image or None)
        logging.getLogger(__name__).info("cameras: %s/cameras", server.base_url)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.camera", description=__doc__)
    parser.add_argument("--config", type=Path, help="station YAML (cameras part)")
    parser.add_argument("--scenes", type=Path, help="folder of vehicle JPEGs")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_CAMERA_HTTP_PORT)
    parser.add_argument("--car", action="append", default=[], metavar="CODE[=IMAGE]", help="a car at a lane")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = load_config(args.config, args.scenes)
    asyncio.run(until_terminated(serve(config, SimClock(args.speed), args.host, args.port, args.car)))


if __name__ == "__main__":
    main()
