"""Pure rules of IC cards (no I/O): the grey lock's states, who may settle a grey card, and the PSAM's MACs.

A **lock** is one grey lock on a chip, named by (card, counter). At a card dispenser it is made when the card
goes in (``locked``), learns its fuelling's order and amount when the fuelling completes (``due``), and ends
``debited`` (the chip paid it) or ``released`` (unlocked without a debit: nothing was sold under it). At a
POS it is made ``due`` with its payment. The chip refuses a second debit of a lock, and the station keeps one
lock per fuelling's order (unique), so a fuelling is debited once whatever is replayed.

``grey_rule``: a grey card is settled at once at the station that locked it (from its own list); at another
station only once the rule's delay has passed since the lock (so the grey record has reached head office),
and from head office's grey list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from telemetry.contracts.card_reader import GreyRecord, amounts, card_bcd, card_key, mac

GREY_DELAY = timedelta(minutes=10)        # FORECOURT_IC_GREY_DELAY_S
REFERENCE = "ic:"                         # a payment's provider_ref: ic:<counter>:<tac>


class LockState(StrEnum):
    LOCKED = "locked"          # grey, waiting for its fuelling
    DUE = "due"                # its amount known: to be debited
    DEBITED = "debited"
    RELEASED = "released"


class GreyRule(StrEnum):
    OWN = "own"                # this station's lock: settle from its own list now
    WAIT = "wait"              # another station's, within the delay: refuse for now
    HEAD_OFFICE = "head_office"  # another station's, after the delay: settle from head office's grey list


class IcCardError(ValueError):
    """A refusal whose message says what to do, Chinese first; ``status`` 409 (state) or 422 (input)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def grey_rule(record: GreyRecord, station: str, now: datetime, delay: timedelta = GREY_DELAY) -> GreyRule:
    if record.station == station:
        return GreyRule.OWN
    return GreyRule.WAIT if now - record.locked_at < delay else GreyRule.HEAD_OFFICE


def wait_message(record: GreyRecord, now: datetime, delay: timedelta = GREY_DELAY) -> str:
    minutes = max(1, -(-int((record.locked_at + delay - now).total_seconds()) // 60))
    return (f"此卡在 {record.station} 站灰锁，请 {minutes} 分钟后再插卡解灰，或回原站处理 "
            f"(the card was locked at {record.station}; try again in {minutes} min, or at that station)")


def reference(counter: int, tac: bytes) -> str:
    return f"{REFERENCE}{counter}:{tac.hex()}"


def counter_of(provider_ref: str | None) -> int | None:
    """The chip counter an IC payment's reference names (``reference``), or None."""
    if not provider_ref or not provider_ref.startswith(REFERENCE):
        return None
    head = provider_ref[len(REFERENCE):].split(":", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass(frozen=True, slots=True)
class Psam:
    """The secure module's part: MACs under each card's key, diversified from the issuer's key. A station
    holds one to unlock; head office holds one to authorise a load (圈存)."""

    issuer_key: bytes

    def unlock_mac(self, card_no: str, counter: int, amount_fen: int, at: datetime) -> bytes:
        return self._mac(b"UNLOCK", card_no, counter, amount_fen, at)

    def load_mac(self, card_no: str, counter: int, amount_fen: int, at: datetime) -> bytes:
        return self._mac(b"LOAD", card_no, counter, amount_fen, at)

    def tac(self, card_no: str, counter: int, amount_fen: int, at: datetime) -> bytes:
        """The TAC the chip gave for a debit or a load (to check one, or to recover one whose answer was lost)."""
        return self._mac(b"TAC", card_no, counter, amount_fen, at)

    def _mac(self, what: bytes, card_no: str, counter: int, amount_fen: int, at: datetime) -> bytes:
        return mac(card_key(self.issuer_key, card_no), what, card_bcd(card_no), amounts(counter, amount_fen, at))


def mask_card(card_no: str) -> str:
    """1000********0001: what logs and screens without ``pii:read`` show."""
    return card_no[:4] + "*" * (len(card_no) - 8) + card_no[-4:]
