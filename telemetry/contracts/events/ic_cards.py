"""IC-card events, from a station server up to head office (business_services/ic_cards, docs/ic-cards.md).

``ic_card.grey_recorded``: a card left grey at this station (pulled before its debit): where, under which
counter, and, once the fuelling is known, its order, payment and amount. Head office keeps it in the grey
list, which another station asks after the rule's delay. Sent again when more is known (same id per state).
``ic_card.grey_settled``: a station debited (or released) a grey lock another station left, from head
office's grey list; head office posts the purse debit for the station that sold the fuel.
``ic_card.purse_read``: what the chip held when a station last read it (reconciliation against the mirror).
Each event's id comes from its natural key, so a repeat is one event.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import Fen, UtcTime
from telemetry.contracts.events.payments import DocumentNo
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import CardNo

IC_GREY_RECORDED = "ic_card.grey_recorded"
IC_GREY_SETTLED = "ic_card.grey_settled"
IC_PURSE_READ = "ic_card.purse_read"

_NAMESPACE = uuid.UUID("8a3e2b71-5c4d-4e9f-a1b2-7d6c5e4f3a29")
Counter = Annotated[int, Field(ge=1, le=65535)]


class IcGreyRecorded(EventPayload):
    TYPE = IC_GREY_RECORDED

    station: Code
    card_no: CardNo
    counter: Counter                     # the chip's transaction counter of the lock
    pump: Annotated[str, Field(max_length=32)]
    fuelling_point: Annotated[int, Field(ge=0, le=16)]
    locked_at: UtcTime
    order_no: DocumentNo | None = None
    payment_no: DocumentNo | None = None
    amount_fen: Fen | None = None        # known once the fuelling completed

    def event_id(self) -> str:
        known = "due" if self.amount_fen is not None else "locked"
        return str(uuid.uuid5(_NAMESPACE, f"grey/{self.station}/{self.card_no}/{self.counter}/{known}"))


class IcGreySettled(EventPayload):
    TYPE = IC_GREY_SETTLED

    station: Code                        # where it was settled
    card_no: CardNo
    counter: Counter
    origin_station: Code                 # where the card went grey (the sale's station)
    payment_no: DocumentNo | None = None  # the origin station's pending payment
    amount_fen: Fen                      # 0: released without a debit
    tac: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
    settled_at: UtcTime

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"settled/{self.card_no}/{self.counter}"))


class IcPurseRead(EventPayload):
    TYPE = IC_PURSE_READ

    station: Code
    card_no: CardNo
    balance_fen: Fen
    counter: Annotated[int, Field(ge=0, le=65535)]
    grey: bool
    read_at: UtcTime

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"read/{self.station}/{self.card_no}/{self.counter}/{self.balance_fen}"))
