"""Charging transactions as the central system books them, with the duplicate rules (pure, no I/O).

A charger delivers its transaction messages *at least once*: a message in flight when the link
dropped is sent again after the reconnect. The ledger makes a repeat harmless:

- **1.6 StartTransaction** has no id of its own: the same (connector, timestamp, meterStart) gets
  the same transactionId back instead of a new one;
- **1.6 StopTransaction** is known by its transactionId: a transaction ends once;
- **2.0.1 TransactionEvent** is known by (transactionId, seqNo): a seqNo already booked changes nothing.

A transaction ends in two steps: ``stop_16`` / ``event_201`` compute the ``ChargingSession``, the
caller hands it over (e.g. to the edge node's outbox) and only then calls ``finish``. If the
hand-over fails the charger's retry computes the same session again; after ``finish`` a repeat is
a duplicate. Transaction ids issued here are unique within the ledger's life (not yet persisted).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from protocol_adapters.ocpp.codec import MeterSample

#: the id-tag status of an authorised session (the word OCPP 1.6 and 2.0.1 share)
ACCEPTED = "Accepted"


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """A finished charging transaction: who charged where, when, and how much energy."""

    charge_point: str
    connector: int
    transaction_id: str
    id_tag: str
    start_time: datetime
    stop_time: datetime
    meter_start_wh: int
    meter_stop_wh: int
    energy_kwh: float
    stop_reason: str
    #: the central system's verdict on ``id_tag`` when the transaction started ("Accepted", "Blocked",
    #: "Invalid", "Unknown", "Expired", …); "" when no token was ever presented
    id_tag_status: str = ""

    @property
    def authorised(self) -> bool:
        """Whether the central system accepted the session's id tag: only then is it an ordinary sale."""
        return self.id_tag_status == ACCEPTED

    @property
    def key(self) -> tuple[str, str, datetime]:
        """The natural key: (charge point, transaction id, start time)."""
        return self.charge_point, self.transaction_id, self.start_time


@dataclass(slots=True)
class OpenTransaction:
    """A transaction that has started and not yet been finished."""

    charge_point: str
    connector: int
    transaction_id: str
    id_tag: str
    start_time: datetime
    meter_start_wh: float | None
    last_energy_wh: float | None = None
    seq_nos: set[int] = field(default_factory=set)
    #: the id tag's verdict given when the transaction started (repeated to a duplicate)
    tag_status: str = ""
    start_key: tuple[str, int, datetime, int | None] | None = None

    def session(self, stop_time: datetime, meter_stop_wh: float | None, reason: str) -> ChargingSession:
        start = self.meter_start_wh if self.meter_start_wh is not None else meter_stop_wh
        stop = meter_stop_wh if meter_stop_wh is not None else self.last_energy_wh
        start_wh = round(start) if start is not None else 0
        stop_wh = round(stop) if stop is not None else start_wh
        return ChargingSession(self.charge_point, self.connector, self.transaction_id, self.id_tag,
                               self.start_time, stop_time, start_wh, stop_wh,
                               round(max(0, stop_wh - start_wh) / 1000, 3), reason, self.tag_status)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a transaction message did: nothing (a duplicate or an orphan), or moved a transaction on."""

    transaction: OpenTransaction | None = None
    session: ChargingSession | None = None
    duplicate: bool = False
    #: about a transaction this ledger never saw start (e.g. started before the edge node restarted)
    orphan: bool = False


class TransactionLedger:
    """Open and recently finished transactions of every charge point of one central system."""

    def __init__(self, first_id: int = 1, remember: int = 10_000) -> None:
        self._ids = itertools.count(first_id)
        self._open: dict[tuple[str, str], OpenTransaction] = {}
        self._starts: dict[tuple[str, int, datetime, int | None], int] = {}
        self._finished: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._remember = remember

    def open_transactions(self, charge_point: str) -> list[OpenTransaction]:
        return [t for (cp, _), t in self._open.items() if cp == charge_point]

    def find(self, charge_point: str, transaction_id: str) -> OpenTransaction | None:
        return self._open.get((charge_point, transaction_id))

    def is_finished(self, charge_point: str, transaction_id: str) -> bool:
        return (charge_point, transaction_id) in self._finished

    # --- OCPP 1.6 -------------------------------------------------------------------------------

    def start_16(self, charge_point: str, connector: int, id_tag: str, meter_start_wh: int | None,
                 timestamp: datetime) -> tuple[OpenTransaction, bool]:
        """The transaction a StartTransaction opens, and whether it is new (False: a repeat).

        ``meter_start_wh`` None: the charger's meterStart could not be believed; the session then
        starts from the first energy reading the transaction brings."""
        key = (charge_point, connector, timestamp, meter_start_wh)
        known = self._starts.get(key)
        if known is not None:
            return self._open[(charge_point, str(known))], False
        number = next(self._ids)
        tx = OpenTransaction(charge_point, connector, str(number), id_tag, timestamp, meter_start_wh,
                             last_energy_wh=meter_start_wh, start_key=key)
        self._starts[key] = number
        self._open[(charge_point, tx.transaction_id)] = tx
        return tx, True

    def stop_16(self, charge_point: str, transaction_id: int, meter_stop_wh: int | None, timestamp: datetime,
                reason: str) -> Outcome:
        key = (charge_point, str(transaction_id))
        if key in self._finished:
            return Outcome(duplicate=True)
        tx = self._open.get(key)
        if tx is None:
            return Outcome(orphan=True)
        return Outcome(tx, tx.session(timestamp, meter_stop_wh, reason))

    def metered(self, charge_point: str, transaction_id: str, samples: Sequence[MeterSample]) -> None:
        """Energy readings of a running 1.6 transaction (MeterValues): the fallback for a meterStart or
        meterStop that could not be believed."""
        tx = self._open.get((charge_point, transaction_id))
        energies = [s.energy_wh for s in samples if s.energy_wh is not None]
        if tx is None or not energies:
            return
        tx.last_energy_wh = energies[-1]
        if tx.meter_start_wh is None:
            tx.meter_start_wh = energies[0]

    # --- OCPP 2.0.1 -----------------------------------------------------------------------------

    def event_201(self, charge_point: str, *, event_type: str, seq_no: int, transaction_id: str,
                  timestamp: datetime, connector: int | None = None, id_tag: str | None = None,
                  samples: Sequence[MeterSample] = (), stopped_reason: str | None = None) -> Outcome:
        """Book one TransactionEvent; an ``Ended`` one gives the session to hand over, then ``finish``."""
        key = (charge_point, transaction_id)
        if key in self._finished:
            return Outcome(duplicate=True)
        tx = self._open.get(key)
        energies = [s.energy_wh for s in samples if s.energy_wh is not None]
        if tx is None:
            if event_type != "Started":
                return Outcome(orphan=True)
            begin = [s.energy_wh for s in samples if s.energy_wh is not None and s.context == "Transaction.Begin"]
            first = begin or energies
            tx = OpenTransaction(charge_point, connector or 0, transaction_id, id_tag or "", timestamp,
                                 first[0] if first else None)
            self._open[key] = tx
        elif seq_no in tx.seq_nos:
            return Outcome(tx, duplicate=True)
        if energies:
            tx.last_energy_wh = energies[-1]
            if tx.meter_start_wh is None:
                tx.meter_start_wh = energies[0]
        if id_tag and not tx.id_tag:
            tx.id_tag = id_tag
        if event_type == "Ended":   # its seqNo is booked by finish(): a failed hand-over may be retried
            return Outcome(tx, tx.session(timestamp, energies[-1] if energies else None, stopped_reason or "Local"))
        tx.seq_nos.add(seq_no)
        return Outcome(tx)

    # --- both -----------------------------------------------------------------------------------

    def finish(self, session: ChargingSession) -> None:
        """The session was handed over: the transaction is closed and any repeat is a duplicate."""
        key = (session.charge_point, session.transaction_id)
        tx = self._open.pop(key, None)
        if tx is not None and tx.start_key is not None:
            self._starts.pop(tx.start_key, None)
        self._finished[key] = None
        while len(self._finished) > self._remember:
            self._finished.popitem(last=False)
