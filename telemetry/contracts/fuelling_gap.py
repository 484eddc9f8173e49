"""The ``fuelling.gap`` event: fuel that left a nozzle without a transaction the platform could read.

The edge node sends one when a nozzle's totalizer chain breaks: a fuelling's totalizer before is
not the previous recorded fuelling's totalizer after on the same nozzle (the pump overwrote the
records in between while the edge was down, or lost them). The volume is the totalizer difference,
so recorded volumes plus gap volumes always add up to the nozzle's totalizer movement. The
station settles a gap in the business database (against the POS's sales or the tax module's
records). Producer (edge) and consumer (business) share this model; the type string is written once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telemetry.contracts.identifiers import Code

FUELLING_GAP = "fuelling.gap"
_NAMESPACE = uuid.UUID("0b8f6d52-7a3e-4f55-8e0c-4c1d2a9e6f13")

Litres = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]


class FuellingGap(BaseModel):
    """Payload of ``fuelling.gap``: which nozzle, how much (litres from its totalizer), which numbers are missing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    station: Code
    pump: Code
    fuelling_point: Annotated[int, Field(ge=1, le=16)]
    nozzle: Annotated[int, Field(ge=1, le=16)]
    grade: int
    #: the pump's transaction numbers of this side that it no longer held in the stretch; empty when unknown
    missing_transactions: tuple[Annotated[int, Field(ge=1)], ...] = ()
    totalizer_from_l: Litres
    totalizer_to_l: Litres
    volume_l: Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=2)]
    detected_at: datetime

    @model_validator(mode="after")
    def _volume_is_the_totalizer_difference(self) -> FuellingGap:
        if self.totalizer_to_l - self.totalizer_from_l != self.volume_l:
            raise ValueError("volume_l must equal totalizer_to_l − totalizer_from_l")
        return self

    def event_id(self) -> str:
        """Stable for the same stretch of the same nozzle, so a gap found again is recorded once."""
        key = (f"{self.station}/{self.pump}/fp{self.fuelling_point}/n{self.nozzle}/"
               f"{self.totalizer_from_l}/{self.totalizer_to_l}")
        return str(uuid.uuid5(_NAMESPACE, key))
