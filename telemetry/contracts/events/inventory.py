"""The ``inventory.reconciled`` event: a station server's tank reconciliation of one period, carried up to head
office, which keeps a copy it never computes (docs/inventory.md "Where it runs").

One event per tank group, period and set of figures: its id comes from the figures, so the same result computed
again is the same event (a redelivery or a recomputation changes nothing) and a changed one is a new event.
Head office keeps the newest by ``computed_at``. Litres are at 20 °C, signed where a variance may be negative.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import UtcTime
from telemetry.contracts.identifiers import Code

INVENTORY_RECONCILED = "inventory.reconciled"

_NAMESPACE = uuid.UUID("3f1c9a52-8e0b-4d7a-b6c4-91e2d05a7f38")
SignedLitres = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
TankNumber = Annotated[int, Field(ge=1, le=99)]


class InventoryReconciled(EventPayload):
    TYPE = INVENTORY_RECONCILED

    station: Code
    tank: TankNumber                         # the group's lowest tank number
    tanks: tuple[TankNumber, ...]
    grade: Annotated[str, Field(min_length=1, max_length=8)]
    period: Literal["shift", "day"]
    period_key: Annotated[str, Field(min_length=1, max_length=64)]
    starts_at: UtcTime
    ends_at: UtcTime
    opening_l: SignedLitres | None
    deliveries_l: SignedLitres
    sales_l: SignedLitres
    book_l: SignedLitres | None
    closing_l: SignedLitres | None
    variance_l: SignedLitres | None
    loss_pct: Annotated[Decimal, Field(max_digits=10, decimal_places=3)] | None
    limit_l: SignedLitres
    status: Literal["ok", "exceeded", "incomplete"]
    detail: dict[str, Any]                  # movements, ARTS figures, notes (as the station's report shows them)
    computed_at: UtcTime

    def event_id(self) -> str:
        figures = self.model_dump(mode="json", exclude={"computed_at"})
        digest = hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()
        return str(uuid.uuid5(_NAMESPACE, f"{self.station}/{self.period}/{self.period_key}/{self.tank}/{digest}"))
