"""Run EV charger simulators alone (OCPP websocket clients of a CSMS).

    python -m simulators.charger [--config station.yaml] [--csms-url ws://127.0.0.1:9000/ocpp]
                                 [--ocpp 1.6|2.0.1] [--profile ac7|dc60|dc120] [--speed 1] [--demo]

The YAML may be a whole station file with a ``chargers:`` list, or one charger's mapping. Without
a file one default charger (``chg-01``, AC 7 kW, OCPP 1.6J) runs. ``--demo`` plays a driver on every
connector: once the charger is online, an EV is plugged in with card ``RFID0001`` (on the id-tag list of
config/stations/demo.yaml).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import yaml

from simulators.charger.config import ChargerConfig
from simulators.charger.server import ChargerSimulator
from simulators.clock import SimClock
from simulators.running import until_terminated

LOG = logging.getLogger("simulators.charger")


def load_configs(path: Path | None, overrides: dict[str, Any]) -> list[ChargerConfig]:
    documents: list[dict[str, Any]] = [{}]
    if path is not None:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        section = loaded.get("chargers", loaded) if isinstance(loaded, dict) else loaded
        documents = section if isinstance(section, list) else [section]
        if not all(isinstance(d, dict) for d in documents):
            raise SystemExit(f"{path}: expected a charger mapping or a chargers: list of mappings")
    return [ChargerConfig.model_validate({**d, **overrides}) for d in documents]


async def drive_demo(charger: ChargerSimulator) -> None:
    await charger.wait_online()
    for connector_id in charger.model.connectors:
        accepted = await charger.plug_in(connector_id, "RFID0001")
        LOG.info(
            "%s connector %s: EV plugged in, card %s",
            charger.config.charge_point_id,
            connector_id,
            "accepted" if accepted else "refused",
        )


async def run_all(configs: list[ChargerConfig], speed: float, demo: bool) -> None:
    clock = SimClock(speed)
    async with contextlib.AsyncExitStack() as stack:
        chargers = [await stack.enter_async_context(ChargerSimulator(c, clock)) for c in configs]
        for charger in chargers:
            LOG.info(
                "%s: OCPP %s client of %s", charger.config.charge_point_id, charger.config.ocpp_version, charger.url
            )
        if demo:
            await asyncio.gather(*(drive_demo(c) for c in chargers))
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.charger", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, help="station YAML (chargers: list) or one charger mapping")
    parser.add_argument("--csms-url", help="CSMS base URL; the charge point id is appended")
    parser.add_argument("--ocpp", choices=["1.6", "2.0.1"], help="OCPP version")
    parser.add_argument("--profile", choices=["ac7", "dc60", "dc120"], help="power profile")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    parser.add_argument("--demo", action="store_true", help="plug an EV in on every connector")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {
        key: value
        for key, value in (("csms_url", args.csms_url), ("ocpp_version", args.ocpp), ("profile", args.profile))
        if value is not None
    }
    asyncio.run(until_terminated(run_all(load_configs(args.config, overrides), args.speed, args.demo)))


if __name__ == "__main__":
    main()
