"""The station's client of its card readers: the only code that talks to them (docs/protocols/card-reader.md).

One ``ReaderLink`` per TCP link (the readers of a POS and of a card dispenser's fuelling points share one,
each at its address); requests on a link go one at a time. Every failure becomes one of ``ReaderError``'s
kinds: the link is down (``ReaderUnavailable``), there is no card or it left during the command
(``CardGone``, ``uncertain`` when the chip may have run it), or the chip refused (``CardRefused`` with its
status word and a Chinese reason for the cashier).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass
from datetime import datetime

from telemetry.contracts.card_reader import (
    AID,
    SFI_GREY,
    SFI_LOG,
    SW,
    Command,
    Frame,
    FrameType,
    GreyRecord,
    Ins,
    LogRecord,
    ProtocolError,
    ReaderFault,
    Response,
    amounts,
    card_from_bcd,
    split,
)

TIMEOUT_S = 3.0

REFUSALS = {SW.INSUFFICIENT: "卡内余额不足 (the card's purse holds less than this)",
            SW.CONDITIONS: "卡片状态不允许此操作 (the card's state does not allow this: grey, or not grey)",
            SW.MAC_INVALID: "MAC 校验失败 (the card refused the MAC)",
            SW.COUNTER_MISMATCH: "交易序号与灰记录不符 (the counter is not the grey record's)",
            SW.NOT_FOUND: "不是本系统的卡 (not a card of this system)"}


class ReaderError(Exception):
    """A reader operation that did not complete; ``str()`` is for the cashier, Chinese first."""


class ReaderUnavailable(ReaderError):
    pass


class CardGone(ReaderError):
    def __init__(self, message: str, uncertain: bool = False) -> None:
        super().__init__(message)
        self.uncertain = uncertain      # the card left during the command: the chip may have run it


class CardRefused(ReaderError):
    def __init__(self, sw: int) -> None:
        super().__init__(REFUSALS.get(sw, f"卡片拒绝 (the card refused), SW {sw:04X}"))   # type: ignore[call-overload]
        self.sw = sw


@dataclass(frozen=True, slots=True)
class Purse:
    card_no: str
    balance_fen: int
    counter: int
    grey: GreyRecord | None


class ReaderLink:
    """``async with ReaderLink(host, port) as link:`` then ``link.slot(address)`` for each reader."""

    def __init__(self, host: str, port: int, timeout_s: float = TIMEOUT_S) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()
        self._seq = 0
        self._buffer = b""

    async def __aenter__(self) -> ReaderLink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def slot(self, address: int) -> Slot:
        return Slot(self, address)

    async def request(self, address: int, kind: FrameType, payload: bytes = b"") -> bytes:
        async with self._lock:
            self._seq = (self._seq + 1) % 256
            frame = Frame(address, kind, self._seq, payload)
            try:
                if self._streams is None:
                    self._streams = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                                           self.timeout_s)
                    self._buffer = b""
                reader, writer = self._streams
                writer.write(frame.encode())
                await writer.drain()
                answer = await asyncio.wait_for(self._next(reader, frame.seq), self.timeout_s)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                await self.close()
                raise ReaderUnavailable(f"读卡器无响应 (the reader does not answer): {type(exc).__name__}") from exc
        if answer.type == FrameType.ERROR:
            fault = answer.payload[0] if answer.payload else 0
            if fault == ReaderFault.NO_CARD:
                raise CardGone("请插卡 (no card in the reader)")
            if fault == ReaderFault.CARD_REMOVED:
                raise CardGone("操作中卡被拔出 (the card was pulled during the operation)", uncertain=True)
            raise ReaderUnavailable(f"读卡器报错 (the reader reports fault {fault})")
        return answer.payload

    async def _next(self, reader: asyncio.StreamReader, seq: int) -> Frame:
        while True:
            found, used = split(self._buffer)
            self._buffer = self._buffer[used:]
            if isinstance(found, Frame) and found.seq == seq:
                return found
            if isinstance(found, ProtocolError | Frame):
                continue       # garbage, or a late answer to an earlier request: skip it
            chunk = await reader.read(4096)
            if not chunk:
                raise asyncio.IncompleteReadError(self._buffer, None)
            self._buffer += chunk


class Slot:
    """One reader at its address: the card operations, each one APDU (or a reader frame)."""

    def __init__(self, link: ReaderLink, address: int) -> None:
        self.link, self.address = link, address

    async def status(self) -> tuple[bool, int]:
        """Whether a card is in, and how many insertions the reader has counted (a new one: a new card)."""
        raw = await self.link.request(self.address, FrameType.STATUS)
        present, insertions = struct.unpack(">BI", raw)
        return bool(present), insertions

    async def _apdu(self, command: Command) -> bytes:
        response = Response.decode(await self.link.request(self.address, FrameType.TRANSMIT, command.encode()))
        if response.sw != SW.OK:
            raise CardRefused(response.sw)
        return response.data

    async def open(self) -> Purse:
        """Reset the chip, select the purse and read it (number, balance, counter, grey record)."""
        await self.link.request(self.address, FrameType.POWER_ON)
        card_no = card_from_bcd(await self._apdu(Command(0x00, Ins.SELECT, 0x04, 0x00, AID)))
        return await self.read(card_no)

    async def read(self, card_no: str) -> Purse:
        """The selected purse as it is now, without a reset (a purchase session in progress stays)."""
        balance, counter, grey = struct.unpack(">IHB", await self._apdu(Command(0x80, Ins.GET_BALANCE, 0x00, 0x02)))
        record = GreyRecord.decode(await self._apdu(Command(0x00, Ins.READ_RECORD, 1, SFI_GREY << 3 | 4))) \
            if grey else None
        return Purse(card_no, balance, counter, record)

    async def log(self, n: int) -> LogRecord | None:
        """The n-th newest line of the chip's transaction log."""
        try:
            return LogRecord.decode(await self._apdu(Command(0x00, Ins.READ_RECORD, n, SFI_LOG << 3 | 4)))
        except CardRefused as exc:
            if exc.sw == SW.RECORD_NOT_FOUND:
                return None
            raise

    async def lock(self, record: GreyRecord) -> tuple[int, int]:
        """INITIALIZE FOR PURCHASE (灰锁): the lock's counter and the balance."""
        counter, balance = struct.unpack(">HI", await self._apdu(
            Command(0x80, Ins.INITIALIZE_FOR_PURCHASE, 0x01, 0x02, record.encode())))
        return counter, balance

    async def debit(self, counter: int, amount_fen: int, at: datetime) -> bytes:
        """DEBIT FOR PURCHASE in the session that locked: the TAC."""
        return await self._apdu(Command(0x80, Ins.DEBIT_FOR_PURCHASE, 0x01, 0x00, amounts(counter, amount_fen, at)))

    async def debit_for_unlock(self, counter: int, amount_fen: int, at: datetime, mac: bytes) -> bytes:
        """DEBIT FOR UNLOCK (解灰扣款; 0 fen: release without a debit), in any session, with the PSAM's MAC."""
        return await self._apdu(Command(0x80, Ins.DEBIT_FOR_UNLOCK, 0x08, 0x00,
                                        amounts(counter, amount_fen, at) + mac))

    async def load(self, counter: int, amount_fen: int, at: datetime, mac: bytes) -> bytes:
        """CREDIT FOR LOAD (圈存) under the next counter, with head office's MAC: the TAC."""
        return await self._apdu(Command(0x80, Ins.CREDIT_FOR_LOAD, 0x00, 0x00, amounts(counter, amount_fen, at) + mac))
