"""The ``delivery.completed`` event: a tank gauge's newest delivery record changed (a tanker unloaded).

The volume is the gauge's measured delivery in litres, rounded to 0.01 L (``fields.GaugeLitres``),
or null when the gauge gave none.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import GaugeLitres, UtcTime
from telemetry.contracts.identifiers import Code

DELIVERY_COMPLETED = "delivery.completed"


class DeliveryCompleted(EventPayload):
    TYPE = DELIVERY_COMPLETED

    station: Code
    gauge: Code
    tank: Annotated[int, Field(ge=1, le=99)]
    ended_at: UtcTime
    volume_l: GaugeLitres | None
