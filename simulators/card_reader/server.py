"""Card readers on one TCP port (a multi-drop link: one address per reader), and their control API.

Each reader is one slot: one POS's reader, or one fuelling point's in a card dispenser (卡机联动). A card is
put in and pulled out through the control API (in process: ``insert``/``pull``; over HTTP: ``control_app``),
so a test can pull a card at any step. Failure modes: a card pulled during a command (``pull_during_next``:
``before`` the chip runs it or ``after``, losing the answer), a garbage or corrupt frame (answered with a
``BAD_FRAME`` error and the link goes on), an unknown reader or frame type. Nothing a client sends stops the
server. Protocol: docs/protocols/card-reader.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulators.card_reader.chip import Chip
from telemetry.contracts.card_reader import Frame, FrameType, ProtocolError, ReaderFault, card_key, split

log = logging.getLogger(__name__)
ATR = bytes.fromhex("3B6800000073C84013009000")


@dataclass
class Slot:
    address: int
    name: str
    card: Chip | None = None
    insertions: int = 0
    pull_during_next: Literal["before", "after"] | None = None
    pull_on: int | None = None          # only on this INS (e.g. Ins.CREDIT_FOR_LOAD); None: the next TRANSMIT

    def fault_now(self, apdu: bytes) -> Literal["before", "after"] | None:
        """The pull to act out on this command, if any (then cleared)."""
        when = self.pull_during_next
        if when is None or (self.pull_on is not None and (len(apdu) < 2 or apdu[1] != self.pull_on)):
            return None
        self.pull_during_next = self.pull_on = None
        return when


@dataclass
class CardReaderSim:
    """The readers and the cards (a card lives in the simulator whether or not it is in a slot)."""

    issuer_key: bytes
    readers: dict[int, Slot] = field(default_factory=dict)
    cards: dict[str, Chip] = field(default_factory=dict)
    bad_frames: int = 0

    @classmethod
    def with_readers(cls, issuer_key: bytes, names: list[str]) -> CardReaderSim:
        return cls(issuer_key, {n: Slot(n, name) for n, name in enumerate(names, start=1)})

    def address(self, reader: str) -> int:
        for slot in self.readers.values():
            if slot.name == reader:
                return slot.address
        raise KeyError(f"no reader {reader!r}; known: {', '.join(s.name for s in self.readers.values())}")

    def issue(self, card_no: str, balance_fen: int = 0) -> Chip:
        """A card with ``balance_fen`` already on its chip (a card that was loaded before the simulation)."""
        chip = self.cards.get(card_no)
        if chip is None:
            chip = self.cards[card_no] = Chip(card_no, card_key(self.issuer_key, card_no), balance_fen)
        return chip

    def insert(self, reader: str, card_no: str) -> None:
        slot = self.readers[self.address(reader)]
        self.pull(reader)
        for other in self.readers.values():       # a card is in one slot at a time
            if other.card is not None and other.card.card_no == card_no:
                self.pull(other.name)
        slot.card = self.issue(card_no)
        slot.card.reset()
        slot.insertions += 1

    def pull(self, reader: str) -> None:
        slot = self.readers[self.address(reader)]
        if slot.card is not None:
            slot.card.reset()
        slot.card = None

    def answer(self, frame: Frame) -> Frame:
        slot = self.readers.get(frame.address)
        if slot is None:
            return frame.error(ReaderFault.NO_SUCH_READER)
        if frame.type == FrameType.STATUS:
            return frame.answer(struct.pack(">BI", slot.card is not None, slot.insertions))
        if frame.type not in (FrameType.POWER_ON, FrameType.TRANSMIT):
            return frame.error(ReaderFault.UNKNOWN_TYPE)
        if slot.card is None:
            return frame.error(ReaderFault.NO_CARD)
        if frame.type == FrameType.POWER_ON:
            slot.card.reset()
            return frame.answer(ATR)
        when = slot.fault_now(frame.payload)
        if when == "before":
            self.pull(slot.name)
            return frame.error(ReaderFault.CARD_REMOVED)
        answer = slot.card.run(frame.payload)
        if when == "after":                     # the chip did it; the answer never reaches the terminal
            self.pull(slot.name)
            return frame.error(ReaderFault.CARD_REMOVED)
        return frame.answer(answer)

    async def serve_link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        try:
            while chunk := await reader.read(4096):
                buffer += chunk
                while buffer:
                    found, used = split(buffer)
                    buffer = buffer[used:]
                    if found is None:
                        if not used:
                            break
                        continue
                    if isinstance(found, ProtocolError):
                        self.bad_frames += 1
                        log.info("读卡器收到坏帧 bad frame: %s", found)
                        writer.write(Frame(0, FrameType.ERROR, 0, bytes((ReaderFault.BAD_FRAME,))).encode())
                        continue
                    writer.write(self.answer(found).encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()


class CardReaderServer:
    """``async with CardReaderServer(sim, port=0) as server:`` the readers listen on ``server.port``."""

    def __init__(self, sim: CardReaderSim, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim, self.host, self.port = sim, host, port
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CardReaderServer:
        self._server = await asyncio.start_server(self.sim.serve_link, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def control_app(sim: CardReaderSim) -> Starlette:
    """``GET /_sim/readers``; ``POST /_sim/cards {card_no, balance_fen}``; ``GET /_sim/cards/{card_no}``;
    ``PUT /_sim/readers/{name}/card {card_no}`` (insert); ``DELETE /_sim/readers/{name}/card`` (pull);
    ``POST /_sim/readers/{name}/faults {pull_during_next: "before"|"after", ins?: 0x52}``."""

    def problem(status: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status)

    async def readers(request: Request) -> JSONResponse:
        return JSONResponse({"items": [{"address": s.address, "name": s.name, "insertions": s.insertions,
                                        "card_no": s.card.card_no if s.card else None}
                                       for s in sim.readers.values()], "bad_frames": sim.bad_frames})

    async def issue(request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        card_no = str(body.get("card_no", ""))
        if not (card_no.isdigit() and len(card_no) in (16, 19)):
            return problem(422, "卡号应为 16 或 19 位数字 (a card number is 16 or 19 digits)")
        return JSONResponse(sim.issue(card_no, int(body.get("balance_fen", 0))).view(), status_code=201)

    async def card(request: Request) -> JSONResponse:
        chip = sim.cards.get(request.path_params["card_no"])
        return problem(404, "没有这张卡 (no such card)") if chip is None else JSONResponse(chip.view())

    async def slot(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        try:
            if request.method == "PUT":
                card_no = str((await request.json()).get("card_no", ""))
                if card_no not in sim.cards:
                    return problem(404, "没有这张卡 (no such card)")
                sim.insert(name, card_no)
            else:
                sim.pull(name)
        except KeyError as exc:
            return problem(404, str(exc))
        return JSONResponse({"reader": name, "card_no": sim.readers[sim.address(name)].card and card_no
                             if request.method == "PUT" else None})

    async def faults(request: Request) -> JSONResponse:
        body = await request.json()
        when, ins = body.get("pull_during_next"), body.get("ins")
        if when not in ("before", "after", None) or not (ins is None or (isinstance(ins, int) and 0 <= ins < 256)):
            return problem(422, "pull_during_next: before | after; ins: 0–255")
        try:
            slot = sim.readers[sim.address(request.path_params["name"])]
            slot.pull_during_next, slot.pull_on = when, ins
        except KeyError as exc:
            return problem(404, str(exc))
        return JSONResponse({"pull_during_next": when})

    return Starlette(routes=[Route("/_sim/readers", readers), Route("/_sim/cards", issue, methods=["POST"]),
                             Route("/_sim/cards/{card_no}", card),
                             Route("/_sim/readers/{name:path}/card", slot, methods=["PUT", "DELETE"]),
                             Route("/_sim/readers/{name:path}/faults", faults, methods=["POST"])])
