"""Charging events: ``charging.completed`` (an accepted session: a sale) and ``charging.refused``.

A finished OCPP session is ``charging.completed`` when the central system accepted its id tag and
``charging.refused`` otherwise (Invalid / Unknown / Blocked / Expired / ConcurrentTx, or no token at
all: ``id_tag_status`` null). A refused session normally carries no energy; when energy flowed anyway
(a pile that started offline and learnt the verdict later) ``energy_flowed`` says so, for the station
to follow up; it is never billed as a normal sale. Energy is kWh to 0.001 (whole watt-hours).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import KilowattHours, UtcTime
from telemetry.contracts.identifiers import Code

CHARGING_COMPLETED = "charging.completed"
CHARGING_REFUSED = "charging.refused"

Text = Annotated[str, Field(max_length=64)]


class _ChargingSession(EventPayload):
    station: Code
    charge_point: Annotated[str, Field(min_length=1, max_length=48)]    # the charger's OCPP identity
    connector: Annotated[int, Field(ge=0)]
    transaction: Annotated[str, Field(min_length=1, max_length=64)]
    id_tag: Text
    id_tag_status: Text | None
    started_at: UtcTime
    ended_at: UtcTime
    meter_start_wh: Annotated[int, Field(ge=0)]
    meter_stop_wh: Annotated[int, Field(ge=0)]
    energy_kwh: KilowattHours
    stop_reason: Text


class ChargingCompleted(_ChargingSession):
    """Payload of ``charging.completed``: one session of an accepted id tag."""

    TYPE = CHARGING_COMPLETED


class ChargingRefused(_ChargingSession):
    """Payload of ``charging.refused``: the same fields, and whether energy flowed all the same."""

    TYPE = CHARGING_REFUSED

    energy_flowed: bool
