"""The card reader's wire protocol, pure (no I/O): frames, APDUs, status words, the grey record and the MACs.

Shared by the simulator (``simulators/card_reader``) and the station's reader client
(``business_services/ic_cards/reader.py``). Modelled on a PC/SC reader on a multi-drop link carrying
PBOC/ISO 7816-4 style APDUs to a petrol-card purse. The whole protocol: docs/protocols/card-reader.md.

A frame is ``STX | LEN(2) | ADDR | TYPE | SEQ | PAYLOAD | CRC(2) | ETX``: ``LEN`` counts ADDR..PAYLOAD,
``CRC`` is CRC-16/CCITT-FALSE over LEN..PAYLOAD, big-endian throughout. ``ADDR`` is the reader (one per
POS and one per fuelling point of a card dispenser), ``SEQ`` is echoed in the answer.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

STX, ETX = 0x02, 0x03
MAX_BODY = 512
HEADER = 3            # STX + LEN
TRAILER = 3           # CRC + ETX
AID = b"FORECOURT.PURSE"


class FrameType(IntEnum):
    STATUS = 0x10         # → present(1) + insertions(4): a card is in; how many times one was inserted
    POWER_ON = 0x11       # → ATR: resets the chip (a new session: a purchase begun before is gone)
    TRANSMIT = 0x12       # C-APDU → R-APDU
    ANSWER = 0x80         # bit set on an answer: STATUS → 0x90 …
    ERROR = 0xEF          # a reader-level error: one ReaderFault byte


class ReaderFault(IntEnum):
    NO_CARD = 0x01            # nothing in the slot
    CARD_REMOVED = 0x02       # the card left during the command: it may or may not have run
    BAD_FRAME = 0x03          # CRC, length or ETX wrong
    UNKNOWN_TYPE = 0x04
    NO_SUCH_READER = 0x05


class SW(IntEnum):
    """Status words (ISO 7816-4, PBOC)."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    CONDITIONS = 0x6985       # grey when it should not be, not grey when it should, no purchase session
    NOT_FOUND = 0x6A82        # file or application
    RECORD_NOT_FOUND = 0x6A83
    WRONG_P1P2 = 0x6A86
    INS_UNKNOWN = 0x6D00
    CLA_UNKNOWN = 0x6E00
    MAC_INVALID = 0x9302
    INSUFFICIENT = 0x9401     # the purse holds less than the debit
    COUNTER_MISMATCH = 0x9406  # the transaction counter is not the grey record's


class Ins(IntEnum):
    SELECT = 0xA4                 # 00 A4 04 00 AID → card number (BCD)
    READ_RECORD = 0xB2            # 00 B2 rec (sfi<<3|4): SFI 0x17 the grey record, 0x18 the transaction log
    GET_BALANCE = 0x5C            # 80 5C 00 02 → balance(4) counter(2) grey(1)
    INITIALIZE_FOR_PURCHASE = 0x50  # 80 50 01 02 grey record → counter(2) balance(4): the grey lock
    DEBIT_FOR_PURCHASE = 0x54     # 80 54 01 00 counter(2) amount(4) time(4): in the same session → TAC(4)
    DEBIT_FOR_UNLOCK = 0x7E       # 80 7E 08 00 counter(2) amount(4) time(4) MAC(4): any session; 0 = unlock
    CREDIT_FOR_LOAD = 0x52        # 80 52 00 00 counter(2) amount(4) time(4) MAC(4) → TAC(4)


SFI_GREY, SFI_LOG = 0x17, 0x18
LOG_RECORDS = 10


class ProtocolError(ValueError):
    """Bytes that are not a frame of this protocol."""


def crc(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True, slots=True)
class Frame:
    address: int
    type: int
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        body = bytes((self.address, self.type, self.seq)) + self.payload
        if len(body) > MAX_BODY:
            raise ProtocolError(f"a frame body is at most {MAX_BODY} bytes")
        length = struct.pack(">H", len(body))
        return bytes((STX,)) + length + body + struct.pack(">H", crc(length + body)) + bytes((ETX,))

    def answer(self, payload: bytes) -> Frame:
        return Frame(self.address, self.type | FrameType.ANSWER, self.seq, payload)

    def error(self, fault: ReaderFault) -> Frame:
        return Frame(self.address, FrameType.ERROR, self.seq, bytes((fault,)))


def split(buffer: bytes) -> tuple[Frame | ProtocolError | None, int]:
    """The first frame in ``buffer`` (or why the bytes there are not one) and how many bytes it used; ``(None,
    n)`` when a frame has begun but not ended (n bytes of garbage before its STX may be dropped)."""
    start = buffer.find(bytes((STX,)))
    if start < 0:
        return None, len(buffer)
    if start > 0:
        return ProtocolError("garbage before a frame"), start
    if len(buffer) < HEADER:
        return None, 0
    (length,) = struct.unpack_from(">H", buffer, 1)
    if not 3 <= length <= MAX_BODY:
        return ProtocolError(f"frame length {length} outside 3..{MAX_BODY}"), 1
    end = HEADER + length + TRAILER
    if len(buffer) < end:
        return None, 0
    body = buffer[HEADER:HEADER + length]
    (sent,) = struct.unpack_from(">H", buffer, HEADER + length)
    if buffer[end - 1] != ETX or sent != crc(buffer[1:HEADER + length]):
        return ProtocolError("bad CRC or ETX"), end
    return Frame(body[0], body[1], body[2], bytes(body[3:])), end


# ---- APDUs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""

    def encode(self) -> bytes:
        head = bytes((self.cla, self.ins, self.p1, self.p2))
        return head + (bytes((len(self.data),)) + self.data if self.data else b"")

    @classmethod
    def decode(cls, raw: bytes) -> Command:
        if len(raw) < 4:
            raise ProtocolError("an APDU has at least 4 bytes")
        data = b""
        if len(raw) > 4:
            if raw[4] != len(raw) - 5:
                raise ProtocolError("Lc does not match the data")
            data = raw[5:]
        return cls(raw[0], raw[1], raw[2], raw[3], data)


@dataclass(frozen=True, slots=True)
class Response:
    data: bytes
    sw: int

    def encode(self) -> bytes:
        return self.data + struct.pack(">H", self.sw)

    @classmethod
    def decode(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise ProtocolError("an R-APDU has at least SW1 SW2")
        return cls(raw[:-2], struct.unpack(">H", raw[-2:])[0])


def card_bcd(card_no: str) -> bytes:
    """16 or 19 digits as 10 BCD bytes, padded with F."""
    return bytes.fromhex(card_no.ljust(20, "F"))


def card_from_bcd(raw: bytes) -> str:
    return raw.hex().upper().rstrip("F")


@dataclass(frozen=True, slots=True)
class GreyRecord:
    """What the chip keeps while grey (灰记录): where and when it was locked, under which counter."""

    station: str          # at most 16 ASCII characters
    pump: str             # at most 8
    fuelling_point: int   # 0 for a POS reader
    locked_at: datetime
    counter: int = 0      # set by the chip

    def encode(self) -> bytes:
        return (self.station.encode().ljust(16, b"\0") + self.pump.encode().ljust(8, b"\0")
                + struct.pack(">BIH", self.fuelling_point, int(self.locked_at.timestamp()), self.counter))

    @classmethod
    def decode(cls, raw: bytes) -> GreyRecord:
        if len(raw) != 31:
            raise ProtocolError("a grey record is 31 bytes")
        fp, when, counter = struct.unpack(">BIH", raw[24:])
        return cls(raw[:16].rstrip(b"\0").decode(errors="replace"), raw[16:24].rstrip(b"\0").decode(errors="replace"),
                   fp, datetime.fromtimestamp(when, UTC), counter)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One line of the chip's transaction log: counter, kind (P purchase, U unlock, L load), amount, time."""

    counter: int
    kind: str
    amount_fen: int
    at: datetime

    def encode(self) -> bytes:
        return struct.pack(">H1sII", self.counter, self.kind.encode(), self.amount_fen, int(self.at.timestamp()))

    @classmethod
    def decode(cls, raw: bytes) -> LogRecord:
        if len(raw) != 11:
            raise ProtocolError("a log record is 11 bytes")
        counter, kind, amount, when = struct.unpack(">H1sII", raw)
        return cls(counter, kind.decode(), amount, datetime.fromtimestamp(when, UTC))


def card_key(issuer_key: bytes, card_no: str) -> bytes:
    """The card's own key, diversified from the issuer's (the PSAM at the station holds the issuer's)."""
    return hmac.new(issuer_key, card_no.encode(), hashlib.sha256).digest()[:16]


def mac(key: bytes, *parts: bytes) -> bytes:
    """A 4-byte MAC over ``parts`` (HMAC-SHA256, truncated: the simulation's stand-in for PBOC's 3DES MAC)."""
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()[:4]


def amounts(counter: int, amount_fen: int, at: datetime) -> bytes:
    """counter(2) amount(4) time(4): the body of a debit or a load, before its MAC."""
    return struct.pack(">HII", counter, amount_fen, int(at.timestamp()))
