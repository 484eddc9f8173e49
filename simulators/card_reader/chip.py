"""The chip of a petrol IC card: its purse and how it answers each APDU (pure, no I/O, no clock of its own).

The purse holds the balance in fen, a transaction counter (raised by every lock and load) and the grey flag
with its grey record. What lives in the chip's memory survives a pull; the purchase *session* (a lock begun
since the last reset) does not: after a pull only DEBIT FOR UNLOCK (with the counter of the grey record and
the card's MAC) can complete or release the lock. A second debit of the same lock is refused (``CONDITIONS``),
so the chip itself never debits twice; the log says what happened to each counter.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

from telemetry.contracts.card_reader import (
    AID,
    LOG_RECORDS,
    SFI_GREY,
    SFI_LOG,
    SW,
    Command,
    GreyRecord,
    Ins,
    LogRecord,
    ProtocolError,
    Response,
    amounts,
    card_bcd,
    mac,
)


@dataclass
class Chip:
    card_no: str
    key: bytes                       # the card's diversified key (card_key)
    balance_fen: int = 0
    counter: int = 0
    grey: GreyRecord | None = None
    log: list[LogRecord] = field(default_factory=list)     # newest first
    selected: bool = False
    session_counter: int | None = None   # the lock begun in this session (volatile)

    def reset(self) -> None:
        """Power on or a pull: the selection and the purchase session are gone; the purse stays."""
        self.selected, self.session_counter = False, None

    def view(self) -> dict[str, object]:
        return {"card_no": self.card_no, "balance_fen": self.balance_fen, "counter": self.counter,
                "grey": None if self.grey is None else {
                    "station": self.grey.station, "pump": self.grey.pump, "fuelling_point": self.grey.fuelling_point,
                    "locked_at": self.grey.locked_at.isoformat(), "counter": self.grey.counter},
                "log": [{"counter": r.counter, "kind": r.kind, "amount_fen": r.amount_fen, "at": r.at.isoformat()}
                        for r in self.log]}

    def _logged(self, record: LogRecord) -> None:
        self.log.insert(0, record)
        del self.log[LOG_RECORDS:]

    def run(self, raw: bytes) -> bytes:
        """One C-APDU in, one R-APDU out; never raises."""
        try:
            command = Command.decode(raw)
        except ProtocolError:
            return Response(b"", SW.WRONG_LENGTH).encode()
        return self._answer(command).encode()

    def _answer(self, c: Command) -> Response:
        if c.cla not in (0x00, 0x80):
            return Response(b"", SW.CLA_UNKNOWN)
        if c.ins == Ins.SELECT:
            if c.data != AID:
                return Response(b"", SW.NOT_FOUND)
            self.selected = True
            return Response(card_bcd(self.card_no), SW.OK)
        if not self.selected:
            return Response(b"", SW.CONDITIONS)
        handlers = {Ins.READ_RECORD: self._read_record, Ins.GET_BALANCE: self._balance,
                    Ins.INITIALIZE_FOR_PURCHASE: self._lock, Ins.DEBIT_FOR_PURCHASE: self._debit_in_session,
                    Ins.DEBIT_FOR_UNLOCK: self._debit_for_unlock, Ins.CREDIT_FOR_LOAD: self._load}
        handler = handlers.get(c.ins)   # type: ignore[call-overload]
        return Response(b"", SW.INS_UNKNOWN) if handler is None else handler(c)

    def _read_record(self, c: Command) -> Response:
        sfi = c.p2 >> 3
        if sfi == SFI_GREY:
            return Response(self.grey.encode(), SW.OK) if self.grey else Response(b"", SW.RECORD_NOT_FOUND)
        if sfi == SFI_LOG:
            if not 1 <= c.p1 <= len(self.log):
                return Response(b"", SW.RECORD_NOT_FOUND)
            return Response(self.log[c.p1 - 1].encode(), SW.OK)
        return Response(b"", SW.NOT_FOUND)

    def _balance(self, c: Command) -> Response:
        return Response(struct.pack(">IHB", self.balance_fen, self.counter, self.grey is not None), SW.OK)

    def _lock(self, c: Command) -> Response:
        """INITIALIZE FOR PURCHASE: the card turns grey under a new counter, with the terminal's record."""
        if self.grey is not None:
            return Response(b"", SW.CONDITIONS)
        try:
            record = GreyRecord.decode(c.data)
        except ProtocolError:
            return Response(b"", SW.WRONG_LENGTH)
        self.counter += 1
        self.grey = GreyRecord(record.station, record.pump, record.fuelling_point, record.locked_at, self.counter)
        self.session_counter = self.counter
        return Response(struct.pack(">HI", self.counter, self.balance_fen), SW.OK)

    def _parse(self, c: Command, with_mac: bool) -> tuple[int, int, datetime, bytes] | Response:
        size = 14 if with_mac else 10
        if len(c.data) != size:
            return Response(b"", SW.WRONG_LENGTH)
        counter, amount, when = struct.unpack(">HII", c.data[:10])
        return counter, amount, datetime.fromtimestamp(when, UTC), c.data[10:]

    def _finish(self, counter: int, amount: int, at: datetime) -> Response:
        if self.grey is None:
            return Response(b"", SW.CONDITIONS)           # not grey: already debited or released
        if counter != self.grey.counter:
            return Response(b"", SW.COUNTER_MISMATCH)
        if amount > self.balance_fen:
            return Response(b"", SW.INSUFFICIENT)
        self.balance_fen -= amount
        self.grey, self.session_counter = None, None
        self._logged(LogRecord(counter, "P" if amount else "U", amount, at))
        return Response(mac(self.key, b"TAC", card_bcd(self.card_no), amounts(counter, amount, at)), SW.OK)

    def _debit_in_session(self, c: Command) -> Response:
        parsed = self._parse(c, with_mac=False)
        if isinstance(parsed, Response):
            return parsed
        counter, amount, at, _ = parsed
        if self.session_counter is None or self.session_counter != counter:
            return Response(b"", SW.CONDITIONS)           # the session was reset: only DEBIT FOR UNLOCK now
        return self._finish(counter, amount, at)

    def _debit_for_unlock(self, c: Command) -> Response:
        parsed = self._parse(c, with_mac=True)
        if isinstance(parsed, Response):
            return parsed
        counter, amount, at, sent = parsed
        if sent != mac(self.key, b"UNLOCK", card_bcd(self.card_no), amounts(counter, amount, at)):
            return Response(b"", SW.MAC_INVALID)
        return self._finish(counter, amount, at)

    def _load(self, c: Command) -> Response:
        """CREDIT FOR LOAD (圈存): the MAC over the expected counter makes a replayed load fail."""
        parsed = self._parse(c, with_mac=True)
        if isinstance(parsed, Response):
            return parsed
        counter, amount, at, sent = parsed
        if sent != mac(self.key, b"LOAD", card_bcd(self.card_no), amounts(counter, amount, at)):
            return Response(b"", SW.MAC_INVALID)
        if self.grey is not None:
            return Response(b"", SW.CONDITIONS)
        if counter != self.counter + 1:
            return Response(b"", SW.COUNTER_MISMATCH)
        self.counter = counter
        self.balance_fen += amount
        self._logged(LogRecord(counter, "L", amount, at))
        return Response(mac(self.key, b"TAC", card_bcd(self.card_no), amounts(counter, amount, at)), SW.OK)
