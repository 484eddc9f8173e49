"""Order events, raised by the station server's orders context and carried up to head office.

``order.created``: everything head office needs to hold its copy of a new order (fuelling, make-up or manual).
``order.changed``: the order's state after each change (a status, a payment, tags, a note, a hold). Each
event's id comes from the order number and its change counter (``version``), so a retried command or a
redelivered event never makes two events of one change; head office keeps the highest version.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import Fen, Litres, UtcTime
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import MemberNo, Plate

ORDER_CREATED = "order.created"
ORDER_CHANGED = "order.changed"

_NAMESPACE = uuid.UUID("7b3e9c52-1f0d-4a8e-9c6b-2d5f8e1a4c70")

#: an order number (business_services/numbers.py); the same rule as payments' DocumentNo
OrderNo = Annotated[str, Field(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


def order_event_id(station: str, order_no: str, version: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{station}/{order_no}/{version}"))


class TagPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=16)]
    amount_fen: Fen | None = None


class OrderCreated(EventPayload):
    TYPE = ORDER_CREATED

    order_no: OrderNo
    station: Code
    kind: Annotated[str, Field(pattern="^(fuelling|make_up|manual)$")]
    status: str
    version: int
    fuelling_event_id: str | None = None
    pump: str | None = None
    fuelling_point: int | None = None
    nozzle: int | None = None
    grade: int | None = None
    volume_l: Litres | None = None
    price_fen_per_l: int | None = None
    totalizer_before_l: Litres | None = None
    totalizer_after_l: Litres | None = None
    amount_fen: Fen
    item: str | None = None
    reason: str | None = None
    shift_no: str | None = None
    fuelled_at: UtcTime | None = None
    created_at: UtcTime
    #: the price-set version a fuelling was sold under (FuellingCompleted.price_set); absent from older stations
    price_set: Annotated[int | None, Field(ge=1, lt=2**31)] = None
    member_no: MemberNo | None = None      # a member order (the member was known when it was made)
    plate: Plate | None = None             # the vehicle, when known (entered, or recognised at the lane)

    def event_id(self) -> str:
        return order_event_id(self.station, self.order_no, self.version)


class OrderChanged(EventPayload):
    TYPE = ORDER_CHANGED

    order_no: OrderNo
    station: Code
    version: int
    action: str                       # what changed it: hold, release, payment … (docs/orders.md)
    status: str
    paid_fen: Fen
    written_off_fen: Fen | None = None
    tags: tuple[TagPayload, ...] = ()
    note: str = ""
    held_reason: str | None = None
    held_note: str | None = None
    at: UtcTime
    member_no: MemberNo | None = None      # the member the order is sold to (set at the POS: it earns the points)
    plate: Plate | None = None

    def event_id(self) -> str:
        return order_event_id(self.station, self.order_no, self.version)
