"""Shift events, raised by the station server's shifts context and carried up to head office.

``shift.opened``: a cashier took charge of the station's sales. ``shift.closed``: the handover, with the
totals frozen at close (sales by fuelling time, takings by payment time, the cash count), which head office
compares with the orders and payments it received. Each event's id comes from the shift's number.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import Fen, Litres, UtcTime
from telemetry.contracts.events.payments import DocumentNo, Method
from telemetry.contracts.identifiers import Code

SHIFT_OPENED = "shift.opened"
SHIFT_CLOSED = "shift.closed"

_NAMESPACE = uuid.UUID("7b3e2a10-5c4d-4f6e-9a1b-2c3d4e5f6a7b")
Person = Annotated[str, Field(min_length=1, max_length=64)]


class ShiftOpened(EventPayload):
    TYPE = SHIFT_OPENED

    shift_no: DocumentNo
    station: Code
    definition: Annotated[str, Field(max_length=32)] | None = None    # 早班/中班/晚班
    opened_by: Person
    opened_at: UtcTime

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"opened/{self.station}/{self.shift_no}"))


class MethodTakings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method
    captured_fen: Fen
    refunded_fen: Fen


class ShiftClosed(EventPayload):
    TYPE = SHIFT_CLOSED

    shift_no: DocumentNo
    station: Code
    opened_by: Person
    opened_at: UtcTime
    closed_by: Person
    closed_at: UtcTime
    order_count: Annotated[int, Field(ge=0)]
    sales_fen: Fen
    volume_l: Litres
    takings: tuple[MethodTakings, ...]
    cash_expected_fen: int          # cash taken less cash refunded (may be negative: refunds of earlier cash)
    cash_counted_fen: Fen
    over_short_fen: int
    unpaid_orders: tuple[DocumentNo, ...]
    override_reason: Annotated[str, Field(max_length=200)] | None = None

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"closed/{self.station}/{self.shift_no}"))
