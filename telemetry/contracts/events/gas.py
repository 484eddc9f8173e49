"""The ``gas_fill.completed`` event: one CNG or LNG fill at a gas skid's dispenser.

Mass and the mass totalizer are kilograms to 0.01 kg, what the dispenser displays; the skid reports
them as floats, rounded once by ``fields.Kilograms`` (edges before the upgrade sent those floats as
JSON numbers: the consumer rounds them the same way). The edge makes its id from the fill's number and
the skid's totalizer reading after it (``edge_nodes.station_events``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import Fen, Kilograms, UtcTime
from telemetry.contracts.identifiers import Code

GAS_FILL_COMPLETED = "gas_fill.completed"


class GasFillCompleted(EventPayload):
    TYPE = GAS_FILL_COMPLETED

    station: Code
    skid: Code
    product: Literal["CNG", "LNG"]
    dispenser: Annotated[int, Field(ge=1, le=32)]
    transaction: Annotated[int, Field(ge=1)]
    mass_kg: Kilograms
    amount_fen: Fen
    price_fen_per_kg: Annotated[int, Field(ge=1)]
    totalizer_after_kg: Kilograms
    stop_reason: Annotated[str, Field(max_length=64)]
    ended_at: UtcTime

