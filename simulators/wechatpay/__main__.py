"""Run the WeChat Pay simulator alone: ``python -m simulators.wechatpay [--port 8701] [--config-out FILE]``.

It prints, or writes as JSON to ``--config-out``, what the merchant configures (keys made at start)."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from pathlib import Path

import uvicorn

from simulators.running import until_terminated
from simulators.wechatpay.server import WeChatPaySim


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(port: int, config_out: Path | None) -> None:
    port = port or _free_port()
    sim = WeChatPaySim()
    server = uvicorn.Server(uvicorn.Config(sim.app, host="127.0.0.1", port=port, log_level="warning"))
    config = json.dumps(sim.keys.merchant_config(f"http://127.0.0.1:{port}"), indent=2)
    if config_out is not None:
        await asyncio.to_thread(config_out.write_text, config, encoding="utf-8")
    print(f"微信支付模拟器 WeChat Pay simulator: http://127.0.0.1:{port}  mchid {sim.keys.mchid}  "
          f"merchant config: {config_out or 'below'}", flush=True)
    if config_out is None:
        print(config, flush=True)
    try:
        await server.serve()
    finally:
        await sim.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.wechatpay", description=__doc__)
    parser.add_argument("--port", type=int, help="0: a free one", default=8701)
    parser.add_argument("--config-out", type=Path, help="write the merchant's settings (JSON) here")
    args = parser.parse_args()
    asyncio.run(until_terminated(_serve(args.port, args.config_out)))
    sys.exit(0)


if __name__ == "__main__":
    main()
