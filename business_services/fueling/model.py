"""A completed fuelling as the pump reported it (pure): litres first, money in fen, the pump's own numbers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telemetry.contracts.identifiers import Code

Litres = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]


class FuelingTransaction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    station: Code
    pump: Code                                    # device code, e.g. disp-01
    fuelling_point: Annotated[int, Field(ge=1, le=16)]
    nozzle: Annotated[int, Field(ge=1, le=16)]
    grade: int
    transaction: Annotated[int, Field(ge=1)]
    volume_l: Litres
    amount_fen: Annotated[int, Field(ge=0)]
    price_fen_per_l: Annotated[int, Field(ge=1)]
    totalizer_before_l: Litres
    totalizer_after_l: Litres
    started_at: datetime
    ended_at: datetime

    @model_validator(mode="after")
    def _consistent(self) -> FuelingTransaction:
        if self.totalizer_after_l - self.totalizer_before_l != self.volume_l:
            raise ValueError("totalizer after − before must equal the volume")
        if self.ended_at < self.started_at:
            raise ValueError("a fuelling cannot end before it starts")
        return self
