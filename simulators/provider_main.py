"""Running a payment provider's simulator alone (``python -m simulators.wechatpay`` / ``simulators.alipay``).

It prints, or writes as JSON to ``--config-out``, what the merchant configures (keys made at start), then
serves the simulator's HTTP API until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any, Protocol

import uvicorn

from simulators.running import until_terminated


class ProviderSim(Protocol):
    app: Any
    keys: Any

    async def close(self) -> None: ...


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(sim: ProviderSim, title: str, port: int, config_out: Path | None) -> None:
    port = port or _free_port()
    server = uvicorn.Server(uvicorn.Config(sim.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    config = json.dumps(sim.keys.merchant_config(f"http://127.0.0.1:{port}"), indent=2)
    if config_out is not None:
        await asyncio.to_thread(config_out.write_text, config, encoding="utf-8")
    print(f"{title}: http://127.0.0.1:{port}  merchant config: {config_out or 'below'}", flush=True)
    if config_out is None:
        print(config, flush=True)
    try:
        await server.serve()
    finally:
        await sim.close()


def main(sim: ProviderSim, title: str, module: str, default_port: int) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=__doc__)
    parser.add_argument("--port", type=int, help="0: a free one", default=default_port)
    parser.add_argument("--config-out", type=Path, help="write the merchant's settings (JSON) here")
    args = parser.parse_args()
    asyncio.run(until_terminated(_serve(sim, title, args.port, args.config_out)))
    sys.exit(0)
