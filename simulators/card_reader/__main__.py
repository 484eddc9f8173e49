"""Run the card readers alone: ``python -m simulators.card_reader [--port 7800] [--control-port 7801]
[--readers pos-1,disp-01/1,disp-01/2] [--issuer-key HEX] [--card 1000113200000001=50000 …]``
(also ``forecourt sim card-reader``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn

from simulators.card_reader.server import CardReaderServer, CardReaderSim, control_app
from simulators.running import until_terminated

DEMO_ISSUER_KEY = "00112233445566778899aabbccddeeff"   # the demo's; a real issuer key lives in the PSAM


async def run_card_readers(host: str, port: int, control_port: int, readers: list[str], issuer_key: bytes,
                           cards: dict[str, int]) -> None:
    sim = CardReaderSim.with_readers(issuer_key, readers)
    for card_no, balance in cards.items():
        sim.issue(card_no, balance)
    async with CardReaderServer(sim, host, port) as server:
        control = uvicorn.Server(uvicorn.Config(control_app(sim), host=host, port=control_port,
                                                log_level="warning", lifespan="off"))
        print(f"读卡器模拟器 (card reader simulator): tcp {host}:{server.port}, 读卡器 "
              + ", ".join(f"{s.address}={s.name}" for s in sim.readers.values())
              + f"; 控制 control http://{host}:{control_port}/_sim/readers (docs/protocols/card-reader.md)",
              flush=True)
        await control.serve()


def cards_from(values: list[str]) -> dict[str, int]:
    cards = {}
    for value in values:
        card_no, _, balance = value.partition("=")
        cards[card_no] = int(balance or 0)
    return cards


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.card_reader", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7800)
    parser.add_argument("--control-port", type=int, default=7801)
    parser.add_argument("--readers", default="pos-1,disp-01/1,disp-01/2", help="reader names, comma-separated")
    parser.add_argument("--issuer-key", default=DEMO_ISSUER_KEY, help="hex; the station's FORECOURT_IC_ISSUER_KEY")
    parser.add_argument("--card", action="append", default=[], help="CARD_NO=BALANCE_FEN, a card already loaded")
    args = parser.parse_args(argv)
    asyncio.run(until_terminated(run_card_readers(args.host, args.port, args.control_port, args.readers.split(","),
                                                  bytes.fromhex(args.issuer_key), cards_from(args.card))))
    sys.exit(0)


if __name__ == "__main__":
    main()
